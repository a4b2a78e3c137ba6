"""The shipped policy and the retail example pass their own cases, and cases catch mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.cases import load_cases, run_cases
from policies.errors import PolicyError
from policies.loader import DEFAULT_POLICY_PATH, load_policy
from policies.model import Action, Signals
from tests.policies.builders import write

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CASES = DEFAULT_POLICY_PATH.parent / "cases.yaml"
TAU = ROOT / "docs" / "examples" / "tau-retail"


@pytest.mark.parametrize(
    ("policy_path", "cases_path"),
    [
        pytest.param(DEFAULT_POLICY_PATH, SHIPPED_CASES, id="shipped"),
        pytest.param(TAU / "policy.yaml", TAU / "cases.yaml", id="tau-retail"),
    ],
)
def test_every_case_passes_and_every_rule_has_a_case(policy_path: Path, cases_path: Path) -> None:
    policy = load_policy(policy_path)
    results = run_cases(policy, load_cases(cases_path))
    failures = [(r.case.name, r.failures) for r in results if not r.passed]
    assert failures == []
    decided = {r.decision.rule_id for r in results if r.decision is not None}
    assert {rule.id for rule in policy.rules} - decided == set()


def test_shipped_policy_never_escalates_out_of_scope() -> None:
    policy = load_policy()
    rule = policy.rule("out-of-scope")
    assert rule is not None
    assert (rule.then.action, rule.then.template) == (Action.ANSWER, "out_of_scope")


def test_a_wrong_expectation_fails_with_a_clear_message(tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.yaml",
        """
        - name: refunds are escalated
          message: refund please
          intent: refund_request
          customer: {verified: true}
          order: {total: 500, status: delivered, days_since_delivery: 3}
          expect: {action: answer, rule: big-refund, queue: support}
        """,
    )
    (result,) = run_cases(load_policy(), load_cases(cases))
    assert not result.passed
    assert result.failures == (
        "expected action answer, got escalate",
        "expected queue support, got billing",
    )


def test_cases_without_an_intent_use_the_understanding_given(tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.yaml",
        """
        - name: understood as a request for a person
          message: get me a human
          sentiment: -0.1
          expect: {action: escalate, rule: asks-for-a-person}
        """,
    )
    seen: list[tuple[str, str]] = []

    def understand(text: str, channel: str) -> Signals:
        seen.append((text, channel))
        return Signals(text, channel, "human_agent", 0.95, sentiment=-0.9, needs_person=True)

    (result,) = run_cases(load_policy(), load_cases(cases), understand)
    assert result.passed, result.failures
    assert seen == [("get me a human", "webchat")]
    assert result.decision is not None


def test_a_case_without_intent_and_without_understanding_fails_plainly(tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.yaml",
        "- name: no intent\n  message: hello\n  expect: {action: answer}\n",
    )
    (result,) = run_cases(load_policy(), load_cases(cases), None)
    assert result.failures == (
        "cannot build the case: no intent given, and offline understanding is not available",
    )


def test_case_file_mistakes_have_lines(tmp_path: Path) -> None:
    cases = write(
        tmp_path / "cases.yaml",
        """
        - name: fine
          message: hi
          intent: greeting
          expect: {action: answer}
        - name: typo
          message: hi
          custmer: {verified: true}
          expect: {action: anwser}
        """,
    )
    with pytest.raises(PolicyError) as caught:
        load_cases(cases)
    found = [(i.line, i.message.split(" (")[0]) for i in caught.value.issues]
    assert found == [
        (7, "cases[1]: unknown key 'custmer'"),
        (8, "cases[1].expect.action: 'anwser' is not one of answer, escalate, clarify, "
            "verify_identity"),
    ]  # fmt: skip
