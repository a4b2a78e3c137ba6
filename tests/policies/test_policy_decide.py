"""decide(): first match wins, actions carry their options, and each decision explains itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.conditions import leaves
from policies.engine import decide, explain
from policies.model import Action
from policies.policy import Policy
from tests.policies.builders import make_input, order, policy_from

POLICY = """
version: 1
settings:
  queues: {support: {claim_within: 15m}, billing: {claim_within: 2h}}
  clarify_fallback: {queue: support, priority: high, message: A colleague will take over.}
rules:
  - id: person
    when: {intent: human_agent}
    then:
      escalate: {queue: support, priority: urgent, message: Connecting you with a person.}
    reason: The customer asked for a person
  - id: big-refund
    when: {intent: refund_request, order.total: {gt: 200}}
    then: {escalate: {queue: billing, priority: high}}
    reason: Refunds over 200 need a person
  - id: any-refund
    when: {intent: refund_request}
    then: {answer: {tools: [orders, knowledge]}}
  - id: unclear
    when: {intent_confident: false}
    then: {clarify: {question: Do you mean an order or a product?}}
  - id: order-question
    when: {intent: order_status, customer.verified: false}
    then: {verify_identity: {message: Please confirm your email first.}}
  - id: off-topic
    when: {intent: out_of_scope}
    then: {answer: {template: out_of_scope}}
default: {clarify: {}}
default_reason: Nothing matched
"""


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    return policy_from(tmp_path, POLICY)


def test_escalate_carries_queue_priority_and_message(policy: Policy) -> None:
    decision = decide(policy, make_input("I want a human", "human_agent"))
    assert decision.action is Action.ESCALATE
    assert (decision.rule_id, decision.queue, decision.priority) == ("person", "support", "urgent")
    assert decision.customer_message == "Connecting you with a person."
    assert decision.reasons[0] == "The customer asked for a person"


def test_first_matching_rule_wins(policy: Policy) -> None:
    big = make_input("refund!", "refund_request", the_order=order(total=350))
    small = make_input("refund!", "refund_request", the_order=order(total=35))
    assert (decide(policy, big).rule_id, decide(policy, big).queue) == ("big-refund", "billing")
    assert decide(policy, small).rule_id == "any-refund"


def test_answer_carries_tools_and_template(policy: Policy) -> None:
    refund = decide(policy, make_input("refund", "refund_request", the_order=order(total=35)))
    assert refund.action is Action.ANSWER
    assert refund.tools == ("orders", "knowledge")
    assert refund.template is None
    off = decide(policy, make_input("weather?", "out_of_scope"))
    assert (off.action, off.template, off.tools) == (Action.ANSWER, "out_of_scope", None)


def test_verify_identity_carries_its_message(policy: Policy) -> None:
    decision = decide(policy, make_input("where is my order", "order_status"))
    assert decision.action is Action.VERIFY_IDENTITY
    assert decision.customer_message == "Please confirm your email first."


def test_clarify_asks_its_question(policy: Policy) -> None:
    decision = decide(policy, make_input("hmm", "payment", confidence=0.2))
    assert (decision.action, decision.rule_id) == (Action.CLARIFY, "unclear")
    assert decision.question == "Do you mean an order or a product?"


def test_second_clarify_in_a_row_escalates_instead(policy: Policy) -> None:
    decision = decide(policy, make_input("hmm", "payment", confidence=0.2, consecutive_clarify=1))
    assert decision.action is Action.ESCALATE
    assert decision.rule_id == "unclear"
    assert (decision.queue, decision.priority) == ("support", "high")
    assert decision.customer_message == "A colleague will take over."
    assert "already asked to clarify 1 time(s) in a row" in decision.reasons[-1]


def test_default_applies_when_nothing_matches_and_also_escalates_a_second_time(
    policy: Policy,
) -> None:
    first = decide(policy, make_input("ok", "thanks"))
    assert (first.action, first.rule_id, first.reasons) == (
        Action.CLARIFY,
        "default",
        ("Nothing matched",),
    )
    assert first.question is None  # the responder's own clarify template is used
    again = decide(policy, make_input("ok", "thanks", consecutive_clarify=2))
    assert (again.action, again.rule_id) == (Action.ESCALATE, "default")


def test_reasons_state_the_facts_that_made_the_rule_match(policy: Policy) -> None:
    decision = decide(policy, make_input("refund", "refund_request", the_order=order(total=350)))
    assert decision.reasons == (
        "Refunds over 200 need a person",
        "intent was refund_request (rule wants = refund_request)",
        "order.total was 350 (rule wants > 200)",
    )


def test_trace_shows_expected_and_seen_values_of_the_deciding_rule(policy: Policy) -> None:
    decision = decide(policy, make_input("refund", "refund_request", the_order=order(total=350)))
    (rule,) = decision.trace
    assert rule.rule_id == "big-refund"
    assert rule.matched
    seen = [(c.condition, c.expected, c.seen, c.ok) for c in rule.conditions]
    assert seen == [
        ("intent", "= refund_request", "refund_request", True),
        ("order.total", "> 200", 350, True),
    ]


def test_explain_traces_every_rule_with_what_each_condition_saw(policy: Policy) -> None:
    decision = explain(policy, make_input("refund", "refund_request", the_order=order(total=35)))
    assert [t.rule_id for t in decision.trace] == [
        "person",
        "big-refund",
        "any-refund",
        "unclear",
        "order-question",
        "off-topic",
    ]
    big = decision.trace[1]
    assert not big.matched
    assert [(c.condition, c.seen, c.ok) for c in big.conditions] == [
        ("intent", "refund_request", True),
        ("order.total", 35, False),
    ]
    assert decision.rule_id == "any-refund"


def test_group_conditions_are_traced_with_their_path(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        """
        version: 1
        rules:
          - id: angry
            when:
              any:
                - {intent: complaint, sentiment: {lt: -0.5}}
                - not: {customer.verified: true}
            then: escalate
        default: answer
        """,
    )
    decision = decide(policy, make_input("bad", "complaint", sentiment=-0.9, verified=True))
    lines = [(c.condition, c.seen, c.ok) for c in decision.trace[0].conditions]
    assert lines == [
        ("any › all › intent", "complaint", True),
        ("any › all › sentiment", -0.9, True),
        ("any › all", "2 of 2 held", True),
        ("any › not › customer.verified", True, True),
        ("any › not", "held", False),
        ("any", "1 of 2 held", True),
    ]


def test_decide_reads_no_clock_the_same_input_gives_the_same_decision(policy: Policy) -> None:
    inp = make_input("hmm", "payment", confidence=0.2)
    assert decide(policy, inp) == decide(policy, inp)


def test_disabled_rules_are_skipped(tmp_path: Path) -> None:
    policy = policy_from(
        tmp_path,
        """
        version: 1
        rules:
          - id: off
            enabled: false
            when: {intent: greeting}
            then: escalate
        default: answer
        """,
    )
    assert [r.id for r in policy.rules] == []
    assert decide(policy, make_input()).action is Action.ANSWER


def test_folder_rules_run_in_file_name_order_and_cases_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "20-late.yaml").write_text(
        "version: 1\nrules:\n  - id: late\n    when: {intent: greeting}\n    then: answer\n"
        "default: answer\n"
    )
    (tmp_path / "10-early.yaml").write_text(
        "version: 1\nrules:\n  - id: early\n    when: {intent: greeting}\n    then: escalate\n"
    )
    (tmp_path / "cases.yaml").write_text("- name: not a policy\n")
    from policies.loader import load_policy

    policy = load_policy(tmp_path)
    assert [r.id for r in policy.rules] == ["early", "late"]
    assert decide(policy, make_input()).rule_id == "early"
    assert len(policy.sources) == 2


def test_version_is_a_hash_of_the_content(tmp_path: Path) -> None:
    a = policy_from(tmp_path / "a", POLICY)
    b = policy_from(tmp_path / "b", POLICY)
    c = policy_from(tmp_path / "c", POLICY.replace("gt: 200", "gt: 300"))
    assert a.version == b.version
    assert a.version != c.version
    assert len(a.version) == 12


def test_the_intent_index_decides_exactly_like_trying_every_rule_in_order() -> None:
    import random

    from policies.loader import load_policy

    policy = load_policy()
    rng = random.Random(3)
    intents = sorted(
        {w for r in policy.rules for leaf in leaves(r.condition) for w in leaf.literals}
    )
    intents += ["human_agent", "something_else"]
    for _ in range(3000):
        inp = make_input(
            "please help with order 42",
            rng.choice(intents),
            rng.uniform(0.1, 1.0),
            sentiment=rng.uniform(-1, 1),
            needs_person=rng.random() < 0.1,
            verified=rng.random() < 0.5,
            tags=("vip",) if rng.random() < 0.2 else (),
            the_order=rng.choice(
                [None, order(status=rng.choice(["pending", "shipped", "delivered"]),
                             total=rng.uniform(5, 500), days_since_delivery=rng.uniform(0, 60),
                             belongs_to_customer=rng.random() < 0.9)]
            ),
            contacts=tuple((rng.uniform(0, 10), "1001", False) for _ in range(rng.randint(0, 3))),
            bot_failures=rng.randint(0, 2),
            minutes_since_staff=rng.choice([None, rng.uniform(0, 120)]),
        )  # fmt: skip
        expected = next((r.id for r in policy.rules if r.condition.check(inp)), "default")
        assert decide(policy, inp).rule_id == expected
