"""`threadline customers show | merge | unmerge`, run as an admin would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bot.cli import main
from memory.db import create_engine, make_session_factory
from memory.identity import Claims, resolve_identity
from memory.orders import SqlOrderSource
from memory.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


async def _seed(url: str) -> dict[str, int]:
    """Ada (shop login on the web chat, two messages) and Bea (email on Telegram)."""
    engine = create_engine(url, pool_size=1)
    factory = make_session_factory(engine)
    ids: dict[str, int] = {}
    try:
        for name, channel, claims in (
            ("ada", "webchat", Claims(customer_ref="C-1", email=None, display_name="Ada")),
            ("bea", "telegram", Claims(email="bea@example.com", display_name="Bea")),
        ):
            async with SqlUnitOfWork(factory, SqlOrderSource(factory)) as uow:
                identity = await resolve_identity(uow, channel, f"{name}-1", claims, NOW)
                conversation = await uow.conversations.start(identity.customer_id, channel, NOW)
                for text in ("hello", "where is my parcel?"):
                    await uow.messages.add(
                        conversation_id=conversation.id,
                        customer_id=identity.customer_id,
                        author="customer",
                        channel=channel,
                        text=text,
                        now=NOW,
                    )
                await uow.commit()
                ids[name] = identity.customer_id
    finally:
        await engine.dispose()
    return ids


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "WARNING")
    return asyncio.run(_seed(database_url))


def test_show_lists_identities_counts_and_audit(seeded: dict[str, int]) -> None:
    code, out, _ = run("customers", "show", "bea@example.com")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"customer {seeded['bea']}: Bea"
    assert "email: bea@example.com" in lines[1]
    assert "identities (1):" in lines
    assert any("telegram bea-1: verified via email" in line for line in lines)
    assert "conversations: 1   messages: 2   orders: 0" in lines
    assert any("link by customer via email" in line for line in lines)
    assert run("customers", "show", "C-1")[1].startswith(f"customer {seeded['ada']}: Ada")


def test_merge_then_unmerge_with_exit_codes(seeded: dict[str, int]) -> None:
    ada, bea = str(seeded["ada"]), str(seeded["bea"])
    code, out, _ = run("customers", "merge", ada, "bea@example.com", "--by", "sam")
    assert code == 0
    assert out.splitlines() == [
        f"merged customer {bea} into {ada} (merge 1): "
        "moved 1 identities, 1 conversations, 2 messages, 0 orders",
        "undo with: threadline customers unmerge 1",
    ]
    shown = run("customers", "show", ada)[1]
    assert "identities (2):" in shown
    assert "conversations: 2   messages: 4" in shown
    assert f"merge 1: customer {bea} into {ada} by admin:sam (admin)" in shown
    assert f"merged into customer {ada}" in run("customers", "show", bea)[1]

    code, _, err = run("customers", "merge", ada, bea)
    assert code == 1
    assert f"refused: customer {bea} is already merged into customer {ada}" in err

    code, out, _ = run("customers", "unmerge", "1", "--by", "kim")
    assert code == 0
    assert "gave back 1 identities, 1 conversations, 2 messages, 0 orders" in out
    assert "conversations: 1   messages: 2" in run("customers", "show", ada)[1]
    shown = run("customers", "show", bea)[1]
    assert "conversations: 1   messages: 2" in shown
    assert "undone" in shown and "by admin:kim" in shown
    assert "unmerge by admin:kim via admin" in shown

    code, _, err = run("customers", "unmerge", "1")
    assert code == 1 and "already undone" in err


def test_refusals_exit_1_and_usage_errors_exit_2(seeded: dict[str, int]) -> None:
    code, _, err = run("customers", "merge", str(seeded["ada"]), "nobody@example.com")
    assert code == 1 and "no customer 'nobody@example.com'" in err
    code, _, err = run("customers", "merge", str(seeded["ada"]), str(seeded["ada"]))
    assert code == 1 and "cannot be merged into itself" in err
    code, _, err = run("customers", "unmerge", "77")
    assert code == 1 and "merge 77 does not exist" in err
    assert run("customers", "show", "nobody@example.com")[0] == 1
    assert run("customers", "merge", str(seeded["ada"]))[0] == 2
    assert run("customers", "unmerge", "not-a-number")[0] == 2
