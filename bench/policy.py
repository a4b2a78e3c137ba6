"""Benchmark: how long one decision takes, and how long offline understanding takes.

1. ``decide()`` over a generated 100-rule policy (every condition kind, groups, windows,
   keywords and patterns), on a mix of inputs that match early, late or not at all (then the
   default decides after every rule that could match was tried). Reports the median and p95
   per call, with the default trace (the deciding rule) and with the full trace (every rule,
   as ``policies explain`` shows it). Target: median ≤ 50 µs.
2. ``OfflineUnderstanding.understand()`` per message over generated shop messages.
   Target: median ≤ 5 ms. And per message when a batch of 25 is understood in one call
   (``understand_many``, as the worker does).

    .venv/bin/python bench/policy.py [--calls 20000] [--messages 2000]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.engine import decide
from policies.loader import load_policy
from policies.model import (
    ContactFact,
    CustomerFacts,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)
from policies.policy import Policy

INTENTS = [
    "order_status",
    "tracking",
    "delivery_time",
    "return_request",
    "refund_request",
    "cancel_order",
    "change_order",
    "change_address",
    "payment",
    "shipping_info",
    "returns_policy",
    "product_question",
    "account",
    "complaint",
    "human_agent",
    "greeting",
    "thanks",
    "goodbye",
    "out_of_scope",
]
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BATCH = 25  # messages per understand_many() call, about a batch of benchmark (b) at 50 clients

# Condition templates; {i} makes each rule's values differ so most rules do not match.
RULE_SHAPES = (
    "{{intent: {intent}, customer.verified: true}}",
    "{{intent: [{intent}, {intent2}], order.total: {{gt: {amount}}}}}",
    "{{any: [{{needs_person: true}}, {{intent: {intent}, intent_confident: true}}]}}",
    "{{history.contacts_about_order: {{within: {days}d, gte: {count}}}, intent: {intent}}}",
    "{{intent: {intent}, sentiment: {{lte: -0.{digit}}}, not: {{customer.tags: vip{i}}}}}",
    "{{keywords: [word{i}, phrase number {i}], channel: [webchat, telegram]}}",
    "{{pattern: 'code-{i}-[0-9]+', intent: {intent}}}",
    "{{order.status: {status}, order.days_since_delivery: {{gt: {days}}}, intent: {intent}}}",
    "{{customer.lifetime_value: {{gte: {amount}0}}, customer.tier: tier{i}}}",
    "{{time.business_hours: false, intent: {intent}, history.bot_failures: {{gte: {count}}}}}",
)


def policy_text(rules: int, rng: random.Random) -> str:
    lines = [
        "version: 1",
        "settings:",
        "  timezone: Europe/Berlin",
        "  business_hours: {mon-fri: '09:00-18:00'}",
        "rules:",
    ]
    for i in range(rules):
        shape = RULE_SHAPES[i % len(RULE_SHAPES)]
        when = shape.format(
            i=i,
            intent=rng.choice(INTENTS),
            intent2=rng.choice(INTENTS),
            amount=rng.randint(50, 900),
            days=rng.randint(3, 40),
            count=rng.randint(2, 5),
            digit=rng.randint(3, 9),
            status=rng.choice(STATUSES),
        )
        action = rng.choice(["answer", "escalate", "{clarify: {}}", "verify_identity"])
        lines += [f"  - id: rule-{i}", f"    when: {when}", f"    then: {action}"]
    lines.append("default: {clarify: {}}")
    return "\n".join(lines) + "\n"


def make_inputs(count: int, rng: random.Random) -> list[DecisionInput]:
    inputs = []
    for n in range(count):
        order = None
        if rng.random() < 0.7:
            delivered = rng.choice([None, rng.uniform(0, 60)])
            order = OrderFacts(
                id=f"A{rng.randint(1, 50)}",
                status=rng.choice(STATUSES),
                total=rng.uniform(5, 900),
                currency="EUR",
                age_days=rng.uniform(0, 90),
                days_since_delivery=delivered,
                belongs_to_customer=True,
                named_in_message=rng.random() < 0.5,
            )
        contacts = tuple(
            ContactFact(
                at=NOW - timedelta(days=rng.uniform(0, 30)),
                order_ref=rng.choice([None, order.id if order else None]),
                escalated=rng.random() < 0.1,
            )
            for _ in range(rng.randint(0, 12))
        )
        inputs.append(
            DecisionInput(
                signals=Signals(
                    text=f"message {n} about my order, it is late and I want it sorted",
                    channel=rng.choice(["webchat", "telegram", "slack"]),
                    intent=rng.choice(INTENTS),
                    intent_confidence=rng.uniform(0.2, 1.0),
                    entities={"order_number": (order.id,)} if order else {},
                    sentiment=rng.uniform(-1, 1),
                    needs_person=rng.random() < 0.05,
                ),
                customer=CustomerFacts(
                    verified=rng.random() < 0.6,
                    first_contact=rng.random() < 0.2,
                    tags=("vip",) if rng.random() < 0.1 else (),
                    lifetime_value=rng.uniform(0, 3000),
                    orders_count=rng.randint(0, 20),
                ),
                history=HistoryFacts(
                    recent_contacts=contacts,
                    bot_failures=rng.randint(0, 2),
                    consecutive_clarify=rng.randint(0, 1),
                ),
                now=NOW + timedelta(hours=rng.uniform(0, 24 * 7)),
                order=order,
            )
        )
    return inputs


def per_call_us(fn: Callable[[], object], calls: int, batch: int = 50) -> tuple[float, float]:
    """Median and p95 of the mean time per call over batches of ``batch`` calls, in µs."""
    samples = []
    for _ in range(max(1, calls // batch)):
        start = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def bench_decide(
    policy: Policy, inputs: list[DecisionInput], calls: int, full: bool
) -> list[float]:
    times = []
    for inp in inputs:
        start = time.perf_counter_ns()
        for _ in range(calls):
            decide(policy, inp, full_trace=full)
        times.append((time.perf_counter_ns() - start) / calls / 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000, help="decide() calls in total")
    parser.add_argument("--messages", type=int, default=2000, help="messages to understand")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.yaml"
        path.write_text(policy_text(100, rng), encoding="utf-8")
        started = time.perf_counter()
        policy = load_policy(path)
        load_ms = (time.perf_counter() - started) * 1000
    inputs = make_inputs(400, rng)
    per_input = max(1, args.calls // len(inputs))
    for inp in inputs[:50]:  # warm up
        decide(policy, inp)
    fell_through = sum(decide(policy, inp).rule_id == "default" for inp in inputs)
    rows = [("policy load + compile (100 rules)", f"{load_ms:.1f} ms", "")]
    for label, full in (
        ("decide(), deciding rule traced", False),
        ("decide(full_trace=True)", True),
    ):
        times = bench_decide(policy, inputs, per_input, full)
        rows.append(
            (
                label,
                f"{statistics.median(times):.1f} µs",
                f"{times[int(len(times) * 0.95) - 1]:.1f} µs",
            )
        )
    rows.append(calibration_row())
    rows.extend(understanding_rows(args.messages, rng))
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {len(inputs)} inputs "
        f"({fell_through} of them fall through to the default)\n"
    )
    print("| what | median | p95 |")
    print("|---|---|---|")
    for what, median, p95 in rows:
        print(f"| {what} | {median} | {p95} |")


def calibration_row() -> tuple[str, str, str]:
    """How fast this machine runs Python right now: an empty function call, for comparison."""

    def nothing() -> None:
        return None

    median, p95 = per_call_us(nothing, 200_000, batch=1000)
    return (
        "for scale: an empty Python function call",
        f"{median * 1000:.0f} ns",
        f"{p95 * 1000:.0f} ns",
    )


def understanding_rows(messages: int, rng: random.Random) -> list[tuple[str, str, str]]:
    try:
        from bot.nlu import OfflineUnderstanding
    except ImportError:
        print("offline understanding (bot.nlu) is not available: timing decide() only\n")
        return []
    engine = OfflineUnderstanding.default()
    words = [
        "where",
        "is",
        "my",
        "order",
        "4411",
        "it",
        "has",
        "not",
        "arrived",
        "I",
        "want",
        "a",
        "refund",
        "can",
        "I",
        "return",
        "the",
        "shoes",
        "do",
        "you",
        "ship",
        "to",
        "Canada",
        "my",
        "parcel",
        "is",
        "late",
        "this",
        "is",
        "terrible",
        "service",
        "talk",
        "to",
        "a",
        "human",
        "hello",
        "thanks",
        "how",
        "long",
        "does",
        "delivery",
        "take",
        "change",
        "my",
        "address",
        "cancel",
        "order",
        "please",
    ]
    texts = [" ".join(rng.choices(words, k=rng.randint(3, 18))) for _ in range(messages)]
    for text in texts[:20]:
        engine.understand(text, "webchat")
    times = []
    for text in texts:
        start = time.perf_counter_ns()
        engine.understand(text, "webchat")
        times.append((time.perf_counter_ns() - start) / 1e6)
    times.sort()
    batched = []  # as the worker understands a batch: one call for its messages
    for start in range(0, len(texts), BATCH):
        batch = [(text, "webchat") for text in texts[start : start + BATCH]]
        began = time.perf_counter_ns()
        engine.understand_many(batch)
        batched.append((time.perf_counter_ns() - began) / 1e6 / len(batch))
    batched.sort()
    return [
        (
            "OfflineUnderstanding.understand() per message",
            f"{statistics.median(times):.2f} ms",
            f"{times[int(len(times) * 0.95) - 1]:.2f} ms",
        ),
        (
            f"understand_many() per message, batches of {BATCH}",
            f"{statistics.median(batched):.2f} ms",
            f"{batched[max(0, int(len(batched) * 0.95) - 1)]:.2f} ms",
        ),
    ]


if __name__ == "__main__":
    main()
