"""Operator-edited reply templates: loaded over the default, every mistake caught at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.responder import MissingField, TemplateError, Templates
from bot.responder.template_names import REQUIRED


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_templates_cover_every_required_name() -> None:
    templates = Templates.default()

    assert set(REQUIRED) <= set(templates.names())
    assert templates.return_window_days == 30
    assert templates.team(None) == "a person on our team"


def test_an_operator_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\n"
        "settings:\n"
        "  return_window_days: 14\n"
        "teams:\n"
        "  billing: Jana from accounts\n"
        "templates:\n"
        "  thanks:\n"
        "    text: Cheers, {first_name}!\n"
        "    quick_replies: [Track another order]\n",
    )

    templates = Templates.load(path)

    thanks = templates.render("thanks", {"first_name": "Anna", "return_window_days": "14"})
    assert (thanks.text, thanks.quick_replies) == ("Cheers, Anna!", ("Track another order",))
    assert templates.return_window_days == 14
    assert templates.team("billing") == "Jana from accounts"
    assert templates.team("support") == "a person on our support team"
    greeting = templates.render("greeting", {"first_name": "Anna", "return_window_days": "14"})
    assert greeting.text.startswith("Hi Anna!")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "templates:\n  order.shipped: Sent with {carier}.\n",
            "templates.yaml:2: template 'order.shipped' uses unknown placeholder {carier}",
        ),
        (
            "templates:\n  greeting: Your order {order_id} is on its way\n",
            "templates.yaml:2: template 'greeting' uses unknown placeholder {order_id}",
        ),
        (
            "templates:\n  thanks: Thanks!\n  order.shiped: Sent.\n",
            "templates.yaml:3: unknown order template 'order.shiped'",
        ),
        (
            "templates:\n  escalate: Passing you to {team.__class__}\n",
            "templates.yaml:2: template 'escalate': placeholder {team.__class__} must be a plain",
        ),
        (
            "templates:\n  escalate: Passing you to {team!r}\n",
            "templates.yaml:2: template 'escalate': write {team} without options",
        ),
        (
            "templates:\n  clarify: What do you mean {first_name\n",
            "templates.yaml:2: template 'clarify': expected '}' before end of string",
        ),
        (
            "templates:\n  clarify:\n    text: Hm?\n    buttons: [Yes]\n",
            "templates.yaml:2: unknown key 'buttons' in template 'clarify'",
        ),
        (
            "templates:\n  Clarify Me: Hm?\n",
            "templates.yaml:2: unknown template name 'Clarify Me'",
        ),
        (
            "settings:\n  timezone: Mars/Olympus\n",
            "templates.yaml:2: unknown time zone 'Mars/Olympus'",
        ),
        (
            "settings:\n  return_window_days: thirty\n",
            "templates.yaml:2: return_window_days must be a whole number of days",
        ),
        ("tempaltes: {}\n", "templates.yaml:1: unknown key 'tempaltes'"),
        ("- just a list\n", "the file must be a mapping"),
        ("templates: [\n", "not valid YAML"),
    ],
)
def test_mistakes_are_reported_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(TemplateError) as caught:
        Templates.load(path)

    assert message in str(caught.value)


def test_a_file_on_its_own_must_hold_every_required_template() -> None:
    with pytest.raises(TemplateError, match="missing templates: greeting, thanks"):
        Templates.parse("teams:\n  default: our team\ntemplates:\n  clarify: Hm?\n", "mine.yaml")
    with pytest.raises(TemplateError, match="teams must name a 'default' team"):
        Templates.parse("templates:\n  clarify: Hm?\n", "mine.yaml")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read the template file"):
        Templates.load(tmp_path / "nope.yaml")


def test_literal_braces_are_allowed_when_doubled(tmp_path: Path) -> None:
    templates = Templates.load(write(tmp_path, "templates:\n  thanks: Thanks {{and}} bye\n"))

    rendered = templates.render("thanks", {"first_name": "Ola"})
    assert rendered.text == "Thanks {and} bye"


def test_rendering_without_a_needed_field_is_a_missing_field_not_a_crash() -> None:
    templates = Templates.default()
    fields = {"first_name": "Ola", "return_window_days": "30", "order_id": "TL-1"}

    with pytest.raises(MissingField) as caught:
        templates.render("order.shipped", fields)
    assert caught.value.field == "shipped_date"
    fallback = templates.render_first(["order.shipped", "order.other"], {**fields, "status": "x"})
    assert fallback is not None and fallback.name == "order.other"


def test_custom_templates_know_whether_they_show_order_details(tmp_path: Path) -> None:
    templates = Templates.load(
        write(
            tmp_path,
            "templates:\n"
            "  store-hours: We're open 9 to 6, {first_name}.\n"
            "  my-latest:\n"
            "    text: Here you go.\n"
            "    quick_replies: ['Track {tracking_number}']\n",
        )
    )

    assert not templates.uses_order_fields("store-hours")
    assert templates.uses_order_fields("my-latest")
    assert templates.uses_order_fields("order.pending")
