"""The migrations build exactly the schema the models describe, and run down and up again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.db import create_engine
from memory.migrate import alembic_config, current_revision, head_revision, migrate
from memory.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_the_latest_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    """On a database of its own (the PostgreSQL test database is shared by the run)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'down-up.db'}")

    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "0002")

    try:
        await migrate(engine)
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        assert await current_revision(engine) == "0002"
        await migrate(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
