"""data api: bases, tables, fields, views, records, event log, idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:51:18.468522
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pyairtable_server.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log_state")),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=True),
        sa.Column("base_id", sa.String(length=32), nullable=True),
        sa.Column("table_id", sa.String(length=32), nullable=True),
        sa.Column("aggregate_type", sa.String(length=32), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("occurred_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index("ix_events_table_id_seq", ["table_id", "seq"], unique=False)
        batch_op.create_index("ix_events_workspace_id_seq", ["workspace_id", "seq"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "event_recipients",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["events.seq"], name=op.f("fk_event_recipients_seq_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", "user_id", name=op.f("pk_event_recipients")),
    )
    with op.batch_alter_table("event_recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_recipients_user_id"), ["user_id"], unique=False)

    op.create_table(
        "bases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_bases_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bases")),
    )
    with op.batch_alter_table("bases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bases_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "data_tables",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("base_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("primary_field_id", sa.String(length=32), nullable=True),
        sa.Column("next_autonumber", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_id"], ["bases.id"], name=op.f("fk_data_tables_base_id_bases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_data_tables_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_tables")),
    )
    with op.batch_alter_table("data_tables", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_tables_base_id"), ["base_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_tables_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "fields",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("table_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["data_tables.id"],
            name=op.f("fk_fields_table_id_data_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fields")),
        sa.UniqueConstraint("table_id", "name", name="uq_fields_table_id_name"),
    )
    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fields_table_id"), ["table_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("table_id", sa.String(length=32), nullable=False),
        sa.Column("autonumber", sa.BigInteger(), nullable=False),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["data_tables.id"],
            name=op.f("fk_records_table_id_data_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("table_id", "autonumber", name="uq_records_table_id_autonumber"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Only PostgreSQL can use it (jsonb containment); on SQLite it would index JSON text.
        op.create_index(
            "ix_records_fields_gin",
            "records",
            ["fields"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"fields": "jsonb_path_ops"},
        )

    op.create_table(
        "views",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("table_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "configuration",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pyairtable_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["data_tables.id"],
            name=op.f("fk_views_table_id_data_tables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_views")),
    )
    with op.batch_alter_table("views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_views_table_id"), ["table_id"], unique=False)

    # The one row that hands out event positions.
    op.bulk_insert(
        sa.table(
            "event_log_state",
            sa.column("id", sa.Integer()),
            sa.column("head_seq", sa.BigInteger()),
            sa.column("pruned_through", sa.BigInteger()),
        ),
        [{"id": 1, "head_seq": 0, "pruned_through": 0}],
    )


def downgrade() -> None:
    with op.batch_alter_table("views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_views_table_id"))

    op.drop_table("views")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_records_fields_gin", table_name="records")

    op.drop_table("records")
    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fields_table_id"))

    op.drop_table("fields")
    with op.batch_alter_table("data_tables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_tables_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_data_tables_base_id"))

    op.drop_table("data_tables")
    with op.batch_alter_table("bases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bases_workspace_id"))

    op.drop_table("bases")
    with op.batch_alter_table("event_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_recipients_user_id"))

    op.drop_table("event_recipients")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_workspace_id_seq")
        batch_op.drop_index("ix_events_table_id_seq")
        batch_op.drop_index(batch_op.f("ix_events_occurred_at"))

    op.drop_table("events")
    op.drop_table("event_log_state")
