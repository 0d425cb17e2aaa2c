"""webhooks: receivers' answers no longer kept; due deliveries found per webhook

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        # Receivers' answers were shown to the webhook's admins: what is not kept cannot leak.
        batch_op.drop_column("last_response_body")
        # The sender takes each webhook's oldest due deliveries in turn (webhooks.sender.claim).
        batch_op.create_index(
            "ix_webhook_deliveries_webhook_id_status_next_attempt_at",
            ["webhook_id", "status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_webhook_id_status_next_attempt_at")
        batch_op.add_column(sa.Column("last_response_body", sa.Text(), nullable=True))
