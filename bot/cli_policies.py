"""`threadline policies …`: check, test, explain and replay support policies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.clock import utcnow
from bot.settings import Settings
from policies.cases import PolicyCase, Understand, load_cases, run_cases
from policies.durations import parse_duration
from policies.engine import decide, explain
from policies.errors import PolicyError, PolicyIssue
from policies.loader import DEFAULT_POLICY_PATH, is_cases_file, load_policy
from policies.model import CustomerFacts, DecisionInput, HistoryFacts, Signals
from policies.policy import Policy
from policies.replay import replay
from policies.report import describe_decision, describe_input, summary, trace_table
from policies.report import unknown_intents as find_unknown_intents
from policies.serialize import input_from_json

PathArg = click.Path(path_type=Path)


def _default_path(path: Path | None) -> Path:
    if path is not None:
        return path
    return Settings().policies_path or DEFAULT_POLICY_PATH


def _print_issues(issues: Sequence[PolicyIssue], what: str) -> None:
    for issue in issues:
        click.echo(str(issue), err=True)
    click.echo(f"{len(issues)} problem(s) in {what}", err=True)


def _load_or_exit(path: Path, what: str = "the policy") -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        _print_issues(exc.issues, what)
        raise SystemExit(1) from exc


def _understanding() -> Understand:
    """The offline understanding the bot uses (THREADLINE_INTENTS or the shipped intents)."""
    from bot.nlu import OfflineUnderstanding

    path = Settings().intents_path
    engine = OfflineUnderstanding.from_file(path) if path else OfflineUnderstanding.default()
    return engine.understand


def _known_intents() -> tuple[str, ...] | None:
    from bot.nlu import SHIPPED_INTENTS, IntentsFileError, load_intents

    try:
        return load_intents(Settings().intents_path or SHIPPED_INTENTS).names
    except (IntentsFileError, OSError):
        return None


@click.group("policies")
def policies() -> None:
    """Check, test, explain and replay the support policy (YAML rules)."""


@policies.command("check")
@click.argument("path", required=False, type=PathArg)
def check(path: Path | None) -> None:
    """Validate the policy at PATH (default: THREADLINE_POLICIES or the shipped policy)."""
    policy = _load_or_exit(_default_path(path))
    click.echo(f"OK: {summary(policy)}")
    known = _known_intents()
    if known is not None:
        for issue in find_unknown_intents(policy, known):
            click.echo(f"warning: {issue}")


def _case_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if is_cases_file(p))
    candidates = [path.parent / "cases.yaml", path.parent / f"{path.stem}.cases.yaml"]
    return [p for p in candidates if p.exists()]


@policies.command("test")
@click.argument("path", required=False, type=PathArg)
@click.option(
    "--cases",
    "case_paths",
    multiple=True,
    type=PathArg,
    help="Case file(s); default: cases.yaml / *.cases.yaml next to the policy.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
def test(path: Path | None, case_paths: tuple[Path, ...], verbose: bool) -> None:
    """Run the policy's test cases; exit 1 if any fails."""
    policy_path = _default_path(path)
    policy = _load_or_exit(policy_path)
    files = list(case_paths) or _case_files(policy_path)
    if not files:
        click.echo(
            f"no test cases found next to {policy_path} (cases.yaml); pass --cases FILE", err=True
        )
        raise SystemExit(1)
    cases: list[PolicyCase] = []
    for file in files:
        try:
            cases.extend(load_cases(file))
        except PolicyError as exc:
            _print_issues(exc.issues, str(file))
            raise SystemExit(1) from exc
    understand = _understanding() if any("intent" not in c.data for c in cases) else None
    results = run_cases(policy, cases, understand)
    failed = [r for r in results if not r.passed]
    for result in results:
        case = result.case
        if result.passed:
            if verbose:
                click.echo(f"ok    {case.name}")
            continue
        click.echo(f"FAIL  {case.file}:{case.line}: {case.name}")
        click.echo(f"      message: {case.message!r}")
        for failure in result.failures:
            click.echo(f"      {failure}")
        if result.decision is not None:
            reason = result.decision.reasons[0] if result.decision.reasons else ""
            click.echo(f"      decided by rule {result.decision.rule_id}: {reason}")
    click.echo(
        f"{len(results) - len(failed)} passed, {len(failed)} failed "
        f"(policy version {policy.version})"
    )
    if failed:
        raise SystemExit(1)


@policies.command("explain")
@click.argument("message")
@click.option("--customer", "email", help="Use this customer's orders and history from the store.")
@click.option("--channel", default="webchat", show_default=True)
@click.option("--intent", help="Skip understanding: take this intent (confidence 1.0).")
@click.option(
    "--verified/--unverified",
    default=None,
    help="Whether the customer counts as verified (default: verified with --customer).",
)
@click.option("--policy", "policy_path", type=PathArg, help="Policy file or folder.")
def explain_command(
    message: str,
    email: str | None,
    channel: str,
    intent: str | None,
    verified: bool | None,
    policy_path: Path | None,
) -> None:
    """Show which rule decides MESSAGE and what every rule's conditions saw."""
    policy = _load_or_exit(_default_path(policy_path))
    if intent is not None:
        from bot.nlu import extract_entities

        signals = Signals(message, channel, intent, 1.0, entities=extract_entities(message))
    else:
        signals = _understanding()(message, channel)
    now = utcnow()
    if email is not None:
        settings = Settings()
        is_verified = True if verified is None else verified
        try:
            inp = asyncio.run(
                customer_input(settings.database_url, email, signals, now, is_verified)
            )
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        customer = CustomerFacts(verified=bool(verified), first_contact=True)
        inp = DecisionInput(signals, customer, HistoryFacts(), now)
    decision = explain(policy, inp)
    click.echo(describe_input(inp))
    click.echo()
    click.echo(describe_decision(decision))
    click.echo()
    click.echo(trace_table(decision))


async def customer_input(
    database_url: str, email: str, signals: Signals, now: datetime, verified: bool
) -> DecisionInput:
    """The inputs the pipeline would build for ``email`` writing ``signals`` now."""
    from bot.facts import decision_input, order_in_question
    from memory.db import create_null_pool_engine, make_session_factory, read_only
    from memory.orders import SqlOrderSource
    from memory.records import ConversationRecord
    from memory.unit_of_work import SqlUnitOfWork

    engine = create_null_pool_engine(database_url)
    try:
        factory = make_session_factory(read_only(engine))  # explaining never writes
        orders = SqlOrderSource(factory)
        async with SqlUnitOfWork(factory, orders) as uow:
            customer = await uow.customers.by_email(email)
            if customer is None:
                raise LookupError(f"no customer with email {email} in the store")
            conversation = await uow.conversations.latest(customer.id) or ConversationRecord(
                id=0,
                customer_id=customer.id,
                state="bot",
                channel=signals.channel,
                started_at=now,
                last_message_at=now,
            )
            context = await uow.context.build(
                customer_id=customer.id,
                conversation=conversation,
                channel=signals.channel,
                verified=verified,
                verified_via="explain" if verified else None,
                now=now,
            )
            order, named = await order_in_question(context, signals, orders)
            return decision_input(context, signals, order, named, now)
    finally:
        await engine.dispose()


async def stored_decisions(database_url: str, since: datetime) -> list[dict[str, Any]]:
    """Stored decisions since ``since``: each its inputs JSON plus ``action`` and ``rule_id``."""
    from sqlalchemy import select

    from memory.db import create_null_pool_engine, make_session_factory, read_only
    from memory.models import Decision

    engine = create_null_pool_engine(database_url)
    try:
        async with make_session_factory(read_only(engine))() as session:
            rows = await session.execute(
                select(Decision.inputs, Decision.action, Decision.rule_id)
                .where(Decision.created_at >= since)
                .order_by(Decision.id)
            )
            return [{**inputs, "action": a, "rule_id": r} for inputs, a, r in rows.all()]
    finally:
        await engine.dispose()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}:{number}: not JSON: {exc.msg}") from exc
    return records


@policies.command("replay")
@click.option("--candidate", required=True, type=PathArg, help="The changed policy to try.")
@click.option("--since", default="30d", show_default=True, help="How far back: 7d, 72h, …")
@click.option("--policy", "policy_path", type=PathArg, help="The current policy (default: live).")
@click.option(
    "--inputs",
    "inputs_path",
    type=PathArg,
    help="Replay stored inputs from a JSON Lines file instead of the database.",
)
def replay_command(
    candidate: Path, since: str, policy_path: Path | None, inputs_path: Path | None
) -> None:
    """Re-decide stored decisions under CANDIDATE: flips per rule, share answered by the bot."""
    current = _load_or_exit(_default_path(policy_path), "the current policy")
    changed = _load_or_exit(candidate, "the candidate policy")
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if inputs_path is not None:
        records = _read_jsonl(inputs_path)
    else:
        cutoff = datetime.now(UTC) - window
        records = asyncio.run(stored_decisions(Settings().database_url, cutoff))
    inputs: list[DecisionInput] = []
    drift = skipped = 0
    for record in records:
        try:
            inp = input_from_json(record)
        except ValueError:
            skipped += 1
            continue
        inputs.append(inp)
        if "action" in record and "rule_id" in record:
            now = decide(current, inp)
            drift += (now.action.value, now.rule_id) != (record["action"], record["rule_id"])
    click.echo(replay(current, changed, inputs).render())
    if drift:
        click.echo(
            f"\nNote: {drift} stored decision(s) differ under the current policy already "
            "(it changed since they were made)."
        )
    if skipped:
        click.echo(f"Skipped {skipped} record(s) that are not stored decision inputs.")
