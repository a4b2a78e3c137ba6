"""staff posts, SLA and knowledge suggestions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:25:22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "knowledge_suggestions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "handoff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("staff", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("entry_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_knowledge_suggestions_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_knowledge_suggestions_handoff_id_handoffs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_suggestions")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_knowledge_suggestions_handoff_id")),
    )
    with op.batch_alter_table("knowledge_suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_suggestions_state_id", ["state", "id"], unique=False)

    op.create_table(
        "staff_posts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "handoff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"], ["handoffs.id"], name=op.f("fk_staff_posts_handoff_id_handoffs")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_staff_posts_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_posts")),
    )
    with op.batch_alter_table("staff_posts", schema=None) as batch_op:
        batch_op.create_index("ix_staff_posts_handoff_id", ["handoff_id", "id"], unique=False)
        batch_op.create_index(
            "ix_staff_posts_state_next", ["state", "next_attempt_at", "id"], unique=False
        )

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("sla_reposts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_handoffs_staff_thread", ["staff_thread"], unique=False)
        batch_op.create_index("ix_handoffs_state_sla_due", ["state", "sla_due_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_state_sla_due")
        batch_op.drop_index("ix_handoffs_staff_thread")
        batch_op.drop_column("sla_reposts")
        batch_op.drop_column("sla_due_at")

    with op.batch_alter_table("staff_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_posts_state_next")
        batch_op.drop_index("ix_staff_posts_handoff_id")

    op.drop_table("staff_posts")
    with op.batch_alter_table("knowledge_suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_suggestions_state_id")

    op.drop_table("knowledge_suggestions")
