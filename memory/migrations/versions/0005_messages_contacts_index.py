"""A covering index for a customer's recent messages (the context's contacts)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:10:00

The context builder reads a customer's own messages of the last 30 days, newest first, up
to a cap. ``(customer_id, created_at)`` made it visit every message of the range (bot
replies too) and read each row for its author, conversation and order. The new index is
ordered by author after the customer and carries the conversation and order: the read
touches only the customer's own messages, in the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_customer_author_created",
        "messages",
        ["customer_id", "author", "created_at", "conversation_id", "order_ref"],
    )
    op.drop_index("ix_messages_customer_created", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_customer_created", "messages", ["customer_id", "created_at"])
    op.drop_index("ix_messages_customer_author_created", table_name="messages")
