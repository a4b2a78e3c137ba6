"""The staff console is switched on by its setting, or by the demo with a printed token."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.bootstrap import build_runtime
from bot.settings import Settings
from bot.wire_staff_console import TOKENS_ENV, add_staff_console
from channels.staff_console import StaffTokenError


async def test_the_console_is_off_without_tokens_outside_the_demo(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    runtime = build_runtime(Settings(DATABASE_URL=database_url), embedded_worker=False)
    try:
        assert add_staff_console(runtime) is False
        assert "staff_console" not in runtime.services
    finally:
        await runtime.engine.dispose()


async def test_tokens_from_the_environment_turn_it_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKENS_ENV, "carol:carol-secret-token")
    runtime = build_runtime(Settings(DATABASE_URL=database_url), embedded_worker=False)
    assert add_staff_console(runtime) is True
    async with TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client:
        resp = await client.post("/staff/login", json={"token": "carol-secret-token"})
        assert resp.status == 200 and (await resp.json()) == {"staff": "carol"}
        ready = await (await client.get("/readyz")).json()
        assert ready["staff"] == ["staff_console"] and ready["channels"] == []


async def test_the_demo_prints_a_fresh_token_that_signs_in(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    settings = Settings(DATABASE_URL=database_url, THREADLINE_DEMO=True)
    runtime = build_runtime(settings, embedded_worker=False)
    assert add_staff_console(runtime) is True
    printed = capsys.readouterr().out
    found = re.search(r"demo sign-in token: (\S+)\)", printed)
    assert found is not None, printed
    async with TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client:
        resp = await client.post("/staff/login", json={"token": found.group(1)})
        assert (await resp.json()) == {"staff": "demo"}


async def test_a_malformed_token_list_stops_the_start(database_url: str) -> None:
    runtime = build_runtime(Settings(DATABASE_URL=database_url), embedded_worker=False)
    try:
        with pytest.raises(StaffTokenError, match="entry 2 is not name:token"):
            add_staff_console(runtime, tokens="alice:first-token,bob")
    finally:
        await runtime.engine.dispose()
