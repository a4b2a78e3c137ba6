"""``evaluate()`` and ``threadline eval``: the numbers an admin reads about their bot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli_eval import eval_command
from bot.evaluation import (
    NEUTRAL_CUSTOMER,
    EvalFileError,
    EvalRow,
    evaluate,
    format_report,
    read_rows,
)
from policies.model import Action, Decision, DecisionInput, Signals

ROWS = [
    EvalRow("agent please", "ESCALATE_EXPLICIT"),
    EvalRow("I want a person", "ESCALATE_EXPLICIT"),
    EvalRow("hmm", "ESCALATE_EXPLICIT"),
    EvalRow("do you ship abroad", "ANSWER_FAQ"),
    EvalRow("shipping agent fees?", "ANSWER_FAQ"),
    EvalRow("where is my order", "ANSWER_ORDER_DATA"),
    EvalRow("no idea", "ANSWER_ORDER_DATA"),
    EvalRow("cancel it, agent", "TRANSACTION_POLICY_DEPENDENT"),
    EvalRow("refund please", "TRANSACTION_POLICY_DEPENDENT"),
]


def keyword_understanding(text: str, channel: str) -> Signals:
    """A stand-in for the understanding step: escalation words decide the intent."""
    if "agent" in text or "person" in text:
        return Signals(text, channel, "human_agent", 0.99, needs_person=True)
    if "ship" in text or "order" in text or "refund" in text:
        return Signals(text, channel, "faq", 0.8)
    return Signals(text, channel, "out_of_scope", 0.2)


def rules(inp: DecisionInput) -> Decision:
    if inp.signals.needs_person:
        return Decision(Action.ESCALATE, "asks-for-a-person", queue="support")
    if inp.signals.intent_confidence < 0.5:
        return Decision(Action.CLARIFY, "unsure")
    return Decision(Action.ANSWER, "faq")


def test_evaluate_counts_escalations_answers_and_the_confusion_table() -> None:
    report = evaluate(ROWS, keyword_understanding, rules)
    assert report.rows == 9
    assert (report.escalated_explicit, report.explicit_total) == (2, 3)
    assert (report.escalated_answerable, report.answerable_total) == (1, 4)
    assert report.escalated_other == 1
    assert report.escalation_recall == pytest.approx(2 / 3, abs=1e-4)
    assert report.escalation_precision == pytest.approx(2 / 3, abs=1e-4)
    assert report.escalation_precision_all == pytest.approx(2 / 4)
    assert report.false_escalation_rate == pytest.approx(1 / 4)
    assert report.answer_rate == pytest.approx(3 / 9, abs=1e-4)
    assert report.confusion["ESCALATE_EXPLICIT"] == {
        "answer": 0,
        "escalate": 2,
        "clarify": 1,
        "verify_identity": 0,
    }
    assert report.confusion["ANSWER_FAQ"]["escalate"] == 1
    assert report.confusion["ANSWER_ORDER_DATA"] == {
        "answer": 1,
        "escalate": 0,
        "clarify": 1,
        "verify_identity": 0,
    }
    assert report.intents["ESCALATE_EXPLICIT"] == {"human_agent": 2, "out_of_scope": 1}
    assert report.false_escalation_rules == {"asks-for-a-person": 1}
    assert [m.text for m in report.missed_escalations] == ["hmm"]
    assert [m.text for m in report.false_escalations] == ["shipping agent fees?"]


def test_every_message_is_decided_in_the_neutral_context() -> None:
    seen: list[DecisionInput] = []

    def record(inp: DecisionInput) -> Decision:
        seen.append(inp)
        return rules(inp)

    moment = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
    evaluate(ROWS[:2], keyword_understanding, record, now=moment)
    assert [i.signals.text for i in seen] == ["agent please", "I want a person"]
    for inp in seen:
        assert inp.customer == NEUTRAL_CUSTOMER
        assert inp.customer.verified is True and inp.customer.first_contact is False
        assert inp.order is None
        assert inp.history.recent_contacts == () and inp.history.bot_failures == 0
        assert inp.now == moment
        assert inp.signals.channel == "webchat"


def test_rates_without_rows_of_a_kind_are_not_made_up() -> None:
    report = evaluate([EvalRow("refund please", "IN_SCOPE_INTENT")], keyword_understanding, rules)
    assert report.escalation_recall is None
    assert report.escalation_precision is None
    assert report.false_escalation_rate is None
    assert report.answer_rate == 1.0
    assert "escalation recall (ESCALATE_EXPLICIT escalated):   n/a" in format_report(report)


def test_read_rows_takes_text_and_decision_and_skips_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        '\ufeffsource,text,decision\nweb,"hi, there",ANSWER_FAQ\nweb,,ANSWER_FAQ\n'
        "web, agent ,ESCALATE_EXPLICIT\n",
        encoding="utf-8",
    )
    assert read_rows(path) == [
        EvalRow("hi, there", "ANSWER_FAQ"),
        EvalRow("agent", "ESCALATE_EXPLICIT"),
    ]


def test_read_rows_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("message,label\nhi,ANSWER_FAQ\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match="missing column\\(s\\) text, decision"):
        read_rows(path)


# --- the command, on the real understanding and policy engine -----------------------------------

INTENTS = """\
version: 1
intents:
  human_agent:
    patterns:
      - '\\b(agent|human|person)\\b'
    examples:
      - let me talk to someone from your team
      - can somebody from staff help me
  out_of_scope:
    examples:
      - what's the weather tomorrow
      - tell me a joke
      - who won the game
  shipping_info:
    examples:
      - do you ship to france
      - how much is shipping
      - do you deliver abroad
      - shipping costs to germany
  order_status:
    examples:
      - where is my order
      - has my order shipped
      - my order has not arrived
      - status of my order
"""

POLICY = """\
version: 1
settings:
  min_intent_confidence: 0.3
  queues:
    support: {claim_within: 15m}
rules:
  - id: asks-for-a-person
    when: {needs_person: true, intent_confidence: {gte: 0.95}}
    then: {escalate: {queue: support, priority: normal}}
  - id: knowledge
    when: {intent: [shipping_info, order_status], intent_confident: true}
    then: answer
  - id: off-topic
    when: {intent: out_of_scope}
    then: answer
default: {clarify: {}}
"""

CSV = """\
text,decision
I want to talk to an agent,ESCALATE_EXPLICIT
is there a human I can write to,ESCALATE_EXPLICIT
tell me a joke,ESCALATE_EXPLICIT
do you ship to france,ANSWER_FAQ
how much is shipping to germany,ANSWER_FAQ
does the shipping agent deliver abroad,ANSWER_FAQ
where is my order,ANSWER_ORDER_DATA
my order has not arrived,ANSWER_ORDER_DATA
what's the weather tomorrow,IN_SCOPE_INTENT
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {"intents": "intents.yaml", "policy": "policy.yaml", "csv": "rows.csv"}
    for key, text in (("intents", INTENTS), ("policy", POLICY), ("csv", CSV)):
        (tmp_path / paths[key]).write_text(text, encoding="utf-8")
    return {key: str(tmp_path / name) for key, name in paths.items()}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(eval_command, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_eval_prints_the_figures_as_json(files: dict[str, str]) -> None:
    code, output = run(
        files["csv"], "--intents", files["intents"], "--policies", files["policy"], "--json"
    )
    assert code == 0
    report = json.loads(output)
    assert report["rows"] == 9
    assert report["escalation_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["escalation_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["false_escalation_rate"] == pytest.approx(1 / 5)
    assert report["answer_rate"] == pytest.approx(6 / 9, abs=1e-4)
    assert report["confusion"]["ESCALATE_EXPLICIT"] == {
        "answer": 1,
        "escalate": 2,
        "clarify": 0,
        "verify_identity": 0,
    }
    assert report["confusion"]["ANSWER_FAQ"] == {
        "answer": 2,
        "escalate": 1,
        "clarify": 0,
        "verify_identity": 0,
    }
    assert report["false_escalation_rules"] == {"asks-for-a-person": 1}
    assert report["false_escalations"][0]["text"] == "does the shipping agent deliver abroad"
    assert report["missed_escalations"][0]["intent"] == "out_of_scope"
    assert report["context"]["customer"] == "verified, returning"


def test_eval_prints_a_table_for_people(files: dict[str, str]) -> None:
    code, output = run(files["csv"], "--intents", files["intents"], "--policies", files["policy"])
    assert code == 0
    assert "escalation recall (ESCALATE_EXPLICIT escalated):   0.667  (2/3)" in output
    assert "false escalation rate (ANSWER_FAQ + ANSWER_ORDER_DATA): 0.200  (1/5)" in output
    assert "answer rate (all rows): 0.667  (6/9)" in output
    table = output.split("label × action", 1)[1]
    row = next(line for line in table.splitlines() if line.startswith("ANSWER_ORDER_DATA"))
    assert row.split()[1:] == ["2", "0", "0", "0", "2"]
    assert "[out_of_scope" in output and "tell me a joke" in output


def test_eval_reads_paths_from_the_environment(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLINE_INTENTS", files["intents"])
    monkeypatch.setenv("THREADLINE_POLICIES", files["policy"])
    code, output = run(files["csv"], "--json")
    assert code == 0
    assert json.loads(output)["escalation_recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_eval_exits_1_on_a_csv_without_the_columns(files: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("message,label\nhi,ANSWER_FAQ\n", encoding="utf-8")
    result = CliRunner().invoke(eval_command, [str(bad), "--intents", files["intents"]])
    assert result.exit_code == 1
    assert f"{bad}: missing column(s) text, decision" in result.output


def test_eval_exits_1_on_a_broken_intents_file(files: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("intents:\n  greeting:\n    examples: [hi\n", encoding="utf-8")
    result = CliRunner().invoke(eval_command, [files["csv"], "--intents", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:4: invalid YAML" in result.output


def test_eval_exits_1_on_an_invalid_policy(files: dict[str, str], tmp_path: Path) -> None:
    policy = tmp_path / "bad-policy.yaml"
    policy.write_text("version: 1\nrules: 3\n", encoding="utf-8")
    result = CliRunner().invoke(
        eval_command, [files["csv"], "--intents", files["intents"], "--policies", str(policy)]
    )
    assert result.exit_code == 1
    assert "the policy is invalid" in result.output
    assert str(policy) in result.output
