"""messages: no index on conversation_id alone (uq_messages_client_id starts with it and
serves the same lookups): one b-tree less written per message

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 17:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_id")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_conversation_id", ["conversation_id"], unique=False)
