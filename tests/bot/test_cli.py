"""The `threadline` command line, run as an admin would (same store and pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from memory.demo import SHOP_FILE
from memory.migrate import head_revision


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "THREADLINE_LOG_LEVEL": "WARNING",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_commands_refuse_an_unmigrated_database(env: dict[str, str]) -> None:
    code, _, err = run("chat", "--as", "x", input="hi\n")
    assert code == 1
    assert "run `threadline migrate` first" in err


def test_migrate_import_and_chat_as_a_verified_customer(env: dict[str, str]) -> None:
    code, out, _ = run("migrate")
    assert code == 0 and f"database schema at {head_revision()}" in out
    assert run("migrate")[0] == 0, "migrating twice is harmless"

    code, out, _ = run("import", str(SHOP_FILE), "--rebase-dates")
    assert code == 0, out
    assert "orders:    238 created" in out

    shop = json.loads(SHOP_FILE.read_text())
    email = shop["customers"][0]["email"]
    code, out, _ = run(
        "chat",
        "--as",
        "term-1",
        "--verified-email",
        email,
        "--json",
        input="hello\nwhere is my order?\nI want to talk to a real person\n",
    )
    assert code == 0
    turns = [json.loads(line) for line in out.splitlines()]
    assert [t["decision"]["action"] for t in turns] == ["answer", "answer", "escalate"]
    mine = {o["id"] for o in shop["orders"] if o["customer_email"] == email}
    assert any(order_id in turns[1]["reply"] for order_id in mine)
    assert all(t["decision"]["rule"] and t["decision"]["reasons"] for t in turns)


def test_chat_without_verification_asks_to_verify(env: dict[str, str]) -> None:
    run("migrate")
    run("import", str(SHOP_FILE))
    code, out, _ = run("chat", "--as", "term-2", input="where is my order?\n")
    assert code == 0
    assert out.startswith("threadline> ")
    assert "order number" in out and "TL-" not in out


def test_import_reports_bad_rows_with_their_line_and_exits_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    run("migrate")
    bad = tmp_path / "orders.json"
    bad.write_text(
        '{"customers": [{"email": "ok@example.com", "name": "Ok"}],\n'
        ' "orders": [\n'
        '  {"id": "A-1", "customer_email": "ok@example.com", "status": "pending",\n'
        '   "created_at": "2026-10-01T10:00:00Z", "currency": "EUR", "total": "10.00",\n'
        '   "items": [{"name": "Mug", "sku": "M", "qty": 1, "price": "10.00"}]},\n'
        '  {"id": "A-2", "customer_email": "ok@example.com", "status": "teleported",\n'
        '   "created_at": "2026-10-01T10:00:00Z", "currency": "EUR", "total": "10.00",\n'
        '   "items": []}\n'
        " ]}\n"
    )
    code, out, err = run("import", str(bad))
    assert code == 1
    assert "orders:    1 created" in out
    assert f"{bad}:6: order A-2: status:" in err


def test_import_of_an_unreadable_file_fails_with_the_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    run("migrate")
    broken = tmp_path / "broken.json"
    broken.write_text('{"orders": [\n  {"id": }\n]}\n')
    code, _, err = run("import", str(broken))
    assert code == 1
    assert "not valid JSON at line 2" in err
