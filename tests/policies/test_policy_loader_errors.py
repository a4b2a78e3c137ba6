"""Every kind of policy mistake is reported with its file, its line and a plain message."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.errors import PolicyError, PolicyIssue
from policies.loader import load_policy
from tests.policies.builders import write

GOOD_RULE = """
  - id: ok
    when: {intent: greeting}
    then: answer
"""


def issues_of(tmp_path: Path, text: str) -> list[PolicyIssue]:
    path = write(tmp_path / "policy.yaml", text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert all(issue.file == str(path) for issue in caught.value.issues)
    return list(caught.value.issues)


def only_issue(tmp_path: Path, text: str) -> PolicyIssue:
    found = issues_of(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_unknown_condition_names_its_line_and_suggests_the_right_name(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: ok
            when: {intent: greeting}
            then: answer
          - id: typo
            when:
              intnet: order_status
            then: answer
        default: answer
        """,
    )
    assert issue.line == 8
    assert issue.message == "rules[1].when: unknown condition 'intnet' (did you mean 'intent'?)"


def test_a_condition_without_its_prefix_suggests_the_full_name(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: busy
            when: {verified: true}
            then: answer
        default: answer
        """,
    )
    assert (issue.line, issue.message) == (
        4,
        "rules[0].when: unknown condition 'verified' (did you mean 'customer.verified'?)",
    )


def test_unknown_key_in_a_rule(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: ok
            when: {intent: greeting}
            then: answer
            reasn: typo here
        default: answer
        """,
    )
    assert issue.line == 6
    assert "rules[0]: unknown key 'reasn' (did you mean 'reason'?)" in issue.message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    issue = only_issue(tmp_path, "version: 1\nrule: []\ndefault: answer\n")
    assert issue.line == 2
    assert "policy: unknown key 'rule' (did you mean 'rules'?)" in issue.message


def test_wrong_types_are_named_in_plain_words(tmp_path: Path) -> None:
    found = issues_of(
        tmp_path,
        """
        version: 1
        rules:
          - id: a
            when: {customer.verified: "yes"}
            then: answer
          - id: b
            when:
              order.total: {gt: lots}
            then: answer
          - id: c
            when: {intent: 3}
            then: answer
        default: answer
        """,
    )
    assert [(i.line, i.message) for i in found] == [
        (4, "rules[0].when.customer.verified: expected true or false, got text"),
        (8, "rules[1].when.order.total.gt: expected a number, got text"),
        (11, "rules[2].when.intent.eq: expected a word, got a number"),
    ]


def test_unknown_operator_suggests_the_right_one(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: a
            when:
              sentiment:
                lte: -0.5
                gtt: -1
            then: escalate
        default: answer
        """,
    )
    assert issue.line == 7
    assert "rules[0].when.sentiment: unknown operator 'gtt' (did you mean 'gt'?)" in issue.message


def test_text_conditions_refuse_ordering_operators(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {order.status: {gt: shipped}}\n"
        "    then: answer\ndefault: answer\n",
    )
    assert issue.line == 4
    assert "unknown operator 'gt'" in issue.message
    assert "allowed: eq, ne, in, not_in" in issue.message


def test_unknown_action(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: a
            when: {intent: human_agent}
            then:
              escalte: {queue: support}
        default: answer
        """,
    )
    assert issue.line == 6
    assert issue.message == "rules[0].then: unknown action 'escalte' (did you mean 'escalate'?)"


def test_unknown_action_option_and_bad_priority(tmp_path: Path) -> None:
    found = issues_of(
        tmp_path,
        """
        version: 1
        rules:
          - id: a
            when: {intent: human_agent}
            then:
              escalate:
                queue: support
                priority: asap
                mesage: hello
        default: answer
        """,
    )
    messages = {(i.line, i.message.split(" (")[0]) for i in found}
    assert (9, "rules[0].then.escalate: unknown key 'mesage'") in messages
    assert (
        8,
        "rules[0].then.escalate.priority: 'asap' is not one of low, normal, high, urgent",
    ) in messages


def test_escalating_to_a_queue_that_settings_do_not_list(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        settings:
          queues: {support: {claim_within: 15m}, billing: {claim_within: 2h}}
        rules:
          - id: a
            when: {intent: refund_request}
            then: {escalate: {queue: biling}}
        default: answer
        """,
    )
    assert issue.line == 7
    assert "unknown queue 'biling' (did you mean 'billing'?)" in issue.message


def test_duplicate_rule_ids_point_at_both_places(tmp_path: Path) -> None:
    found = issues_of(
        tmp_path,
        """
        version: 1
        rules:
          - id: ok
            when: {intent: greeting}
            then: answer
          - id: ok
            when: {intent: thanks}
            then: answer
        default: answer
        """,
    )
    assert len(found) == 1
    assert found[0].line == 6
    assert found[0].message.startswith("rules[1].id: duplicate rule id 'ok' (first used at ")
    assert found[0].message.endswith("policy.yaml:3)")


def test_missing_id_when_and_then(tmp_path: Path) -> None:
    found = issues_of(tmp_path, "version: 1\nrules:\n  - reason: nothing else\ndefault: answer\n")
    messages = [i.message for i in found]
    assert all(i.line == 3 for i in found)
    assert any("every rule needs an id" in m for m in messages)
    assert "rules[0]: missing 'when:'" in messages
    assert "rules[0]: missing 'then:'" in messages


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        (
            "settings:\n  continuity_window: forever\n",
            3,
            "settings.continuity_window: 'forever' is not a duration",
        ),
        (
            "settings:\n  queues:\n    support: {claim_within: 0m}\n",
            4,
            "settings.queues.support.claim_within: '0m' is not a duration",
        ),
        ("settings:\n  timezone: Mars/Olympus\n", 3, "unknown time zone 'Mars/Olympus'"),
        ("settings:\n  min_intent_confidence: 5\n", 3, "expected a number from 0 to 1"),
        (
            "settings:\n  business_hours: {weekdays: '09:00-17:00'}\n",
            3,
            "'weekdays' is not a day or a range of days",
        ),
        (
            "settings:\n  business_hours: {mon-fri: '9 to 5'}\n",
            3,
            "'9 to 5' is not a time range",
        ),
        ("settings:\n  holidays: [christmas]\n", 3, "'christmas' is not a date"),
    ],
)
def test_bad_settings(tmp_path: Path, snippet: str, line: int, message: str) -> None:
    issue = only_issue(tmp_path, f"version: 1\n{snippet}default: answer\n")
    assert issue.line == line
    assert message in issue.message


def test_bad_duration_in_a_window(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: again
            when:
              history.contacts:
                within: 7 days
                gte: 3
            then: escalate
        default: answer
        """,
    )
    assert issue.line == 6
    assert issue.message.startswith("rules[0].when.history.contacts.within: '7 days' is not a")


def test_a_window_needs_a_comparison(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {history.contacts: {within: 7d}}\n"
        "    then: escalate\ndefault: answer\n",
    )
    assert issue.line == 4
    assert "add a comparison next to 'within'" in issue.message


def test_time_conditions_need_their_settings(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {time.business_hours: false}\n"
        "    then: escalate\ndefault: answer\n",
    )
    assert (issue.line, issue.message) == (
        4,
        "rules[0].when.time.business_hours: needs settings.business_hours to be set",
    )


def test_invalid_regular_expression(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {pattern: 'order (#'}\n"
        "    then: answer\ndefault: answer\n",
    )
    assert issue.line == 4
    assert "'order (#' is not a valid pattern" in issue.message


def test_bad_day_names(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {time.weekday: [saturday]}\n"
        "    then: answer\ndefault: answer\n",
    )
    assert issue.line == 4
    assert "'saturday' is not a day" in issue.message


def test_version_is_required_and_must_be_1(tmp_path: Path) -> None:
    missing = only_issue(tmp_path, "rules: []\ndefault: answer\n")
    assert (missing.line, missing.message) == (1, "missing 'version: 1' at the top of the file")
    wrong = only_issue(tmp_path, "default: answer\nversion: 2\n")
    assert wrong.line == 2
    assert "reads policy version 1, the file says 2" in wrong.message


def test_missing_default(tmp_path: Path) -> None:
    issue = only_issue(tmp_path, f"version: 1\nrules:{GOOD_RULE}")
    assert "no 'default:' action" in issue.message


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    issue = only_issue(tmp_path, "version: 1\nrules:\n  - id: a\n    when: {intent: [greeting}\n")
    assert issue.line == 4
    assert issue.message.startswith("not valid YAML:")


def test_duplicate_yaml_key_has_its_line(tmp_path: Path) -> None:
    issue = only_issue(
        tmp_path,
        "version: 1\nrules:\n  - id: a\n    when: {intent: greeting}\n    then: answer\n"
        "    then: escalate\ndefault: answer\n",
    )
    assert issue.line == 6
    assert "duplicate key" in issue.message


def test_every_problem_is_reported_at_once_and_rendered_as_file_line_message(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "policy.yaml",
        """
        version: 1
        rules:
          - id: a
            when: {intnet: greeting}
            then: answer
          - id: b
            when: {intent: thanks}
            then: anwser
        default: answer
        """,
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).splitlines() == [
        f"{path}:4: rules[0].when: unknown condition 'intnet' (did you mean 'intent'?)",
        f"{path}:8: rules[1].then: unknown action 'anwser' (did you mean 'answer'?)",
    ]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such policy file or folder"):
        load_policy(tmp_path / "nowhere.yaml")


def test_folder_errors_name_the_file_they_are_in(tmp_path: Path) -> None:
    write(tmp_path / "10-base.yaml", f"version: 1\nsettings: {{}}\nrules:{GOOD_RULE}")
    bad = write(
        tmp_path / "20-more.yaml",
        "version: 1\nsettings: {}\nrules:\n  - id: ok\n    when: {intent: thanks}\n"
        "    then: answer\ndefault: answer\n",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    found = [(i.file, i.line, i.message.split(";")[0].split(" (")[0]) for i in caught.value.issues]
    assert (str(bad), 2, f"settings: already given in {tmp_path / '10-base.yaml'}") in found
    assert (str(bad), 4, "rules[0].id: duplicate rule id 'ok'") in found


def test_a_misspelt_wait_placeholder_in_a_message_is_reported_with_its_line(
    tmp_path: Path,
) -> None:
    issue = only_issue(
        tmp_path,
        """
        version: 1
        rules:
          - id: a
            when: {intent: human_agent}
            then:
              escalate:
                message: We're back {open_at}; a person will reply then.
        default: answer
        """,
    )
    assert issue.line == 7
    assert issue.message.startswith(
        "rules[0].then.escalate.message: unknown placeholder {open_at} (did you mean 'opens_at'?)"
    )
