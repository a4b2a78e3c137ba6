"""identity links: one-time link codes, customer merges and the identity audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:50:43.631163
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kept_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "merged_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["kept_id"], ["customers.id"], name=op.f("fk_customer_merges_kept_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["merged_id"], ["customers.id"], name=op.f("fk_customer_merges_merged_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_merges_kept_id"), ["kept_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_customer_merges_merged_id"), ["merged_id"], unique=False
        )

    op.create_table(
        "identity_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column(
            "identity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "from_customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "to_customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("merge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_events_from_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_identity_events_identity_id_channel_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["merge_id"],
            ["customer_merges.id"],
            name=op.f("fk_identity_events_merge_id_customer_merges"),
        ),
        sa.ForeignKeyConstraint(
            ["to_customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_events_to_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_events")),
    )
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.create_index("ix_identity_events_from", ["from_customer_id", "id"], unique=False)
        batch_op.create_index("ix_identity_events_to", ["to_customer_id", "id"], unique=False)

    op.create_table(
        "link_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "issued_to_identity_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("issued_on", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "used_by_identity_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_link_codes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["issued_to_identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_link_codes_issued_to_identity_id_channel_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["used_by_identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_link_codes_used_by_identity_id_channel_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_codes_code_hash")),
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_codes_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "merge_moves",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["merge_id"],
            ["customer_merges.id"],
            name=op.f("fk_merge_moves_merge_id_customer_merges"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_moves")),
    )
    with op.batch_alter_table("merge_moves", schema=None) as batch_op:
        batch_op.create_index("ix_merge_moves_merge_kind", ["merge_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("merge_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_merge_moves_merge_kind")

    op.drop_table("merge_moves")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_codes_customer_id"))

    op.drop_table("link_codes")
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_events_to")
        batch_op.drop_index("ix_identity_events_from")

    op.drop_table("identity_events")
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_merges_merged_id"))
        batch_op.drop_index(batch_op.f("ix_customer_merges_kept_id"))

    op.drop_table("customer_merges")
