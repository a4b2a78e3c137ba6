"""PostgreSQL notifies other processes of new work (memory.store_signals)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 06:20:00

On PostgreSQL, a statement-level trigger on each work table sends ``NOTIFY`` on that
table's channel after rows are inserted (delivered when the transaction commits, at most
once per transaction and channel). SQLite has no such mechanism and needs nothing here:
its processes read the newest id of each work table instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → channel; the same names as memory.store_signals.CHANNELS (kept literal: a
# migration must not change when application code does).
NOTIFIED = {
    "inbound_events": "threadline_inbound",
    "outbox": "threadline_outbox",
    "staff_posts": "threadline_staff_posts",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION threadline_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_ARGV[0], '');
            RETURN NULL;
        END
        $$
        """
    )
    for table, channel in NOTIFIED.items():
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION threadline_notify('{channel}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in NOTIFIED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS threadline_notify()")
