"""`threadline policies check | test | explain | replay`: output and exit codes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bot.cli_policies import policies
from memory.db import create_engine, make_session_factory
from memory.orders import SqlOrderSource
from memory.unit_of_work import SqlUnitOfWork
from policies.serialize import input_to_json
from tests.policies.builders import make_input, order, write

ROOT = Path(__file__).resolve().parents[2]
TAU = ROOT / "docs" / "examples" / "tau-retail" / "policy.yaml"
POLICY = """
version: 1
rules:
  - id: person
    when: {intent: human_agent}
    then: escalate
  - id: big-refund
    when: {intent: refund_request, order.total: {gt: 200}}
    then: {escalate: {priority: high}}
  - id: refund
    when: {intent: refund_request}
    then: answer
default: answer
"""


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(policies, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_check_passes_the_shipped_policy_with_a_summary() -> None:
    code, out = run("check")
    assert code == 0
    assert out.startswith("OK: ")
    assert "rules, default clarify, version " in out
    assert "warning" not in out


def test_check_fails_with_every_file_line_message(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policy.yaml",
        """
        version: 1
        rules:
          - id: a
            when: {intnet: greeting}
            then: answer
          - id: b
            when: {order.total: {gt: many}}
            then: escalte
        default: answer
        """,
    )
    code, out = run("check", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:4: rules[0].when: unknown condition 'intnet' (did you mean 'intent'?)",
        f"{path}:7: rules[1].when.order.total.gt: expected a number, got text",
        f"{path}:8: rules[1].then: unknown action 'escalte' (did you mean 'escalate'?)",
        "3 problem(s) in the policy",
    ]


def test_check_warns_about_intents_the_understanding_never_produces(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policy.yaml",
        "version: 1\nrules:\n  - id: a\n    when: {intent: refund_requets}\n"
        "    then: answer\ndefault: answer\n",
    )
    code, out = run("check", str(path))
    assert code == 0
    assert (
        f"warning: {path}:3: rule 'a': intent 'refund_requets' is not one the understanding "
        "knows, so this comparison never matches"
    ) in out


def test_check_reads_the_policy_path_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.yaml", POLICY)
    code, out = run("check", env={"THREADLINE_POLICIES": str(path)})
    assert code == 0
    assert "3 rules, default answer" in out


def test_test_passes_the_shipped_cases_and_the_tau_example() -> None:
    code, out = run("test")
    assert code == 0, out
    assert " passed, 0 failed" in out
    code, out = run("test", str(TAU))
    assert code == 0, out


def test_test_fails_and_names_the_failing_case(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yaml", POLICY)
    write(
        tmp_path / "cases.yaml",
        """
        - name: small refunds are answered
          message: refund please
          intent: refund_request
          order: {total: 20}
          expect: {action: answer, rule: refund}
        - name: big refunds are answered too (wrong)
          message: refund please
          intent: refund_request
          order: {total: 900}
          expect: {action: answer, rule: refund}
        """,
    )
    code, out = run("test", str(policy), "-v")
    assert code == 1
    lines = out.splitlines()
    assert "ok    small refunds are answered" in lines
    assert f"FAIL  {tmp_path / 'cases.yaml'}:6: big refunds are answered too (wrong)" in lines
    assert "      expected action answer, got escalate" in lines
    assert "      expected rule refund, got big-refund" in lines
    assert lines[-1].startswith("1 passed, 1 failed")


def test_test_without_cases_is_an_error(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yaml", POLICY)
    code, out = run("test", str(policy))
    assert code == 1
    assert "no test cases found" in out


def test_test_with_an_invalid_policy_is_an_error(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yaml", POLICY.replace("then: answer\n", "then: nope\n", 1))
    write(tmp_path / "cases.yaml", "- {name: a, message: b, intent: c, expect: {action: answer}}\n")
    code, out = run("test", str(policy))
    assert code == 1
    assert "unknown action 'nope'" in out


def test_explain_shows_the_deciding_rule_and_every_condition(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yaml", POLICY)
    code, out = run("explain", "I want a refund", "--intent", "refund_request", "--policy",
                    str(policy))  # fmt: skip
    assert code == 0
    assert "Decision: answer (rule refund)" in out
    table = out[out.index("RULE / CONDITION") :].splitlines()
    assert table[1].split() == ["person", "no", "match"]
    assert table[2].split() == ["intent", "=", "human_agent", "refund_request", "no"]
    assert table[4].split() == ["intent", "=", "refund_request", "refund_request", "yes"]
    assert table[5].split() == ["order.total", ">", "200", "missing", "no"]
    assert table[6].split() == ["→", "refund", "DECIDES"]


def test_explain_understands_the_message_itself() -> None:
    code, out = run("explain", "I want to talk to a real person right now")
    assert code == 0
    assert "Signals:  intent human_agent" in out
    assert "Decision: escalate" in out


def _seed_decisions(url: str, records: list[tuple[dict[str, object], str, str]]) -> None:
    async def seed() -> None:
        engine = create_engine(url)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        async with SqlUnitOfWork(factory, SqlOrderSource(factory)) as uow:
            customer = await uow.customers.create(now=now, email="ana@example.com", name="Ana")
            conversation = await uow.conversations.start(customer.id, "webchat", now)
            for inputs, action, rule_id in records:
                message_id = await uow.messages.add(
                    conversation_id=conversation.id,
                    customer_id=customer.id,
                    author="customer",
                    channel="webchat",
                    text="…",
                    now=now,
                )
                await uow.decisions.add(
                    conversation_id=conversation.id,
                    message_id=message_id,
                    action=action,
                    rule_id=rule_id,
                    reasons=[],
                    inputs=inputs,
                    outcome={},
                    policy_version="old",
                    now=now - timedelta(days=1),
                )
            await uow.commit()
        await engine.dispose()

    asyncio.run(seed())


def test_replay_reads_stored_decisions_from_the_store(tmp_path: Path, database_url: str) -> None:
    current = write(tmp_path / "current.yaml", POLICY)
    candidate = write(tmp_path / "candidate.yaml", POLICY.replace("gt: 200", "gt: 100"))
    mid = input_to_json(make_input("refund 150", "refund_request", the_order=order(total=150)))
    low = input_to_json(make_input("refund 50", "refund_request", the_order=order(total=50)))
    _seed_decisions(database_url, [(mid, "answer", "refund"), (low, "escalate", "refund")])
    code, out = run(
        "replay", "--candidate", str(candidate), "--policy", str(current), "--since", "7d",
        env={"DATABASE_URL": database_url},
    )  # fmt: skip
    assert code == 0, out
    assert "Replayed 2 decision(s)" in out
    assert "1  refund (answer) → big-refund (escalate)" in out
    assert "e.g. 'refund 150'" in out
    assert "Answered by the bot: 100.0% before, 50.0% after" in out
    assert "Note: 1 stored decision(s) differ under the current policy already" in out


def test_explain_for_a_stored_customer(database_url: str) -> None:
    _seed_decisions(database_url, [])
    code, out = run(
        "explain", "where is my order?", "--intent", "order_status",
        "--customer", "ana@example.com", env={"DATABASE_URL": database_url},
    )  # fmt: skip
    assert code == 0, out
    assert "Customer: verified true" in out
    assert "Decision: answer (rule where-is-my-order)" in out
    code, out = run(
        "explain", "hi", "--intent", "greeting", "--customer", "nobody@example.com",
        env={"DATABASE_URL": database_url},
    )  # fmt: skip
    assert code == 1
    assert "no customer with email nobody@example.com" in out


def test_replay_from_a_file_and_exit_codes(tmp_path: Path) -> None:
    current = write(tmp_path / "current.yaml", POLICY)
    candidate = write(tmp_path / "candidate.yaml", POLICY.replace("gt: 200", "gt: 100"))
    lines = [
        json.dumps(input_to_json(make_input("refund 150", "refund_request",
                                            the_order=order(total=150)))),
        json.dumps({"something": "else"}),
    ]  # fmt: skip
    inputs = write(tmp_path / "inputs.jsonl", "\n".join(lines) + "\n")
    code, out = run("replay", "--candidate", str(candidate), "--policy", str(current),
                    "--inputs", str(inputs))  # fmt: skip
    assert code == 0
    assert "Replayed 1 decision(s)" in out
    assert "Skipped 1 record(s) that are not stored decision inputs." in out

    broken = write(tmp_path / "broken.yaml", POLICY.replace("intent:", "intnet:", 1))
    code, out = run("replay", "--candidate", str(broken), "--policy", str(current),
                    "--inputs", str(inputs))  # fmt: skip
    assert code == 1
    assert "problem(s) in the candidate policy" in out
    code, out = run("replay", "--candidate", str(candidate), "--since", "a while",
                    "--inputs", str(inputs))  # fmt: skip
    assert code == 2
    assert "is not a duration" in out
