"""file usage indexes: storage quotas sum file sizes per uploader and per workspace

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 20:25:00.000000

The single-column indexes on ``files.uploaded_by`` and ``files.workspace_id`` become
``(uploaded_by, size)`` and ``(workspace_id, size)``: the sums behind the quotas
(``quotas.py``) then read the index alone, never the rows, and the foreign keys' cascades still
find their rows by the leading column.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_uploaded_by"))
        batch_op.drop_index(batch_op.f("ix_files_workspace_id"))
        batch_op.create_index("ix_files_uploaded_by_size", ["uploaded_by", "size"], unique=False)
        batch_op.create_index("ix_files_workspace_id_size", ["workspace_id", "size"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_workspace_id_size")
        batch_op.drop_index("ix_files_uploaded_by_size")
        batch_op.create_index(batch_op.f("ix_files_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_files_uploaded_by"), ["uploaded_by"], unique=False)
