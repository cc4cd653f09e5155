"""desk passes: agents an offer expired on, or who sent a chat back, are passed over

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("desk_queue", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("passed", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("desk_queue", schema=None) as batch_op:
        batch_op.drop_column("passed")
