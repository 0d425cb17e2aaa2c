"""partial field indexes: each per-field index covers only its own table's records; events by
aggregate

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 19:40:00.000000

Until now every number, select, date and date-time field had an index over the whole shared
``records`` table, so one tenant's fields slowed every tenant's writes. Each is rebuilt here as
a partial index, ``WHERE table_id = '<its table>'`` (see ``data/indexes.py``; the SQL is frozen
here as it was at this revision). On PostgreSQL this runs in the migration's transaction, not
concurrently: it is a one-time upgrade step before the server answers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXED_TYPES = ("number", "select", "date", "datetime")
_ID_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _checked(value: str, prefix: str) -> str:
    rest = value[len(prefix) :]
    if not value.startswith(prefix) or len(rest) < 14 or not set(rest) <= _ID_CHARS:
        raise ValueError(f"not a {prefix} id: {value!r}")
    return value


def _expression(dialect: str, field_id: str, kind: str) -> str:
    if dialect == "sqlite":
        return f"json_extract(fields, '$.\"{field_id}\"')"
    if kind == "number":
        return (
            f"(CASE WHEN jsonb_typeof(fields -> '{field_id}') = 'number' "
            f"THEN CAST((fields ->> '{field_id}') AS DOUBLE PRECISION) END)"
        )
    return f"((fields ->> '{field_id}') COLLATE \"C\")"


def _indexed_fields() -> list[tuple[str, str, str]]:
    rows = op.get_bind().execute(
        sa.text("SELECT id, table_id, type FROM fields WHERE type IN :types").bindparams(
            sa.bindparam("types", expanding=True)
        ),
        {"types": list(_INDEXED_TYPES)},
    )
    return [(_checked(f, "fld"), _checked(t, "tbl"), kind) for f, t, kind in rows]


def _rebuild(*, partial: bool) -> None:
    dialect = op.get_bind().dialect.name
    nulls = " NULLS FIRST" if dialect == "postgresql" else ""
    for field_id, table_id, kind in _indexed_fields():
        name = f"ix_rec_{field_id}"
        where = f" WHERE table_id = '{table_id}'" if partial else ""
        op.execute(f'DROP INDEX IF EXISTS "{name}"')
        op.execute(
            f'CREATE INDEX "{name}" ON records '
            f"(table_id, {_expression(dialect, field_id, kind)}{nulls}, autonumber){where}"
        )


def upgrade() -> None:
    _rebuild(partial=True)
    # The event log's aggregate_id filter (GET /events, WebSocket and SSE replay).
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_aggregate_id_seq", ["aggregate_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_aggregate_id_seq")
    _rebuild(partial=False)
