"""Contact marks on customer messages, and a partial index of the marked ones

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 11:00:00

The context built a customer's contacts (visits) from their newest 100 messages of 30 days
each time, finding the pauses with a window function: the largest part of a context's cost.
Each customer message now carries its part in the contacts, set when it is stored
(memory.contact_marks): 1 starts a visit (two hours of silence before it, or the first),
2 switches conversation or names an order within one, NULL neither. The context reads only
the marked rows, through a partial index. Existing messages are marked here, once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GAP_S = 2 * 3600 - 0.001


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("contact_mark", sa.SmallInteger(), nullable=True))
    sqlite = op.get_bind().dialect.name == "sqlite"
    gap = (
        "(julianday(created_at) - julianday(prev_at)) * 86400.0"
        if sqlite
        else "extract(epoch from created_at - prev_at)"
    )
    op.execute(
        f"""
        UPDATE messages SET contact_mark = marks.mark
        FROM (
            SELECT id, CASE
                WHEN prev_at IS NULL OR {gap} >= {GAP_S} THEN 1
                WHEN prev_conversation != conversation_id OR order_ref IS NOT NULL THEN 2
            END AS mark
            FROM (
                SELECT id, created_at, conversation_id, order_ref,
                    lag(created_at) OVER w AS prev_at,
                    lag(conversation_id) OVER w AS prev_conversation
                FROM messages
                WHERE author = 'customer'
                WINDOW w AS (PARTITION BY customer_id ORDER BY created_at, id)
            ) AS ordered
        ) AS marks
        WHERE messages.id = marks.id
        """
    )
    op.create_index(
        "ix_messages_contact_marks",
        "messages",
        ["customer_id", "created_at", "contact_mark", "conversation_id", "order_ref"],
        sqlite_where=sa.text("contact_mark IS NOT NULL"),
        postgresql_where=sa.text("contact_mark IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_contact_marks", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("contact_mark")
