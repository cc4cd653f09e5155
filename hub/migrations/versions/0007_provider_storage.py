"""provider storage: platform links, an adapter's key-value store, media by event id

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_links",
        sa.Column("instance", sa.String(length=40), nullable=False),
        sa.Column("platform_id", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("instance", "platform_id"),
    )
    with op.batch_alter_table("provider_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_links_conversation_id"), ["conversation_id"], unique=False
        )
    op.create_table(
        "provider_values",
        sa.Column("instance", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("expires_at", hub.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", hub.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instance", "key"),
    )
    with op.batch_alter_table("provider_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_values_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_event_id", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            "uq_media_source_event", ["conversation_id", "source_event_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_constraint("uq_media_source_event", type_="unique")
        batch_op.drop_column("source_event_id")
    with op.batch_alter_table("provider_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_values_expires_at"))
    op.drop_table("provider_values")
    with op.batch_alter_table("provider_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_links_conversation_id"))
    op.drop_table("provider_links")
