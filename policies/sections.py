"""Reading the ``settings:`` section and ``then:`` / ``default:`` actions of a policy file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policies.conditions import parse_days
from policies.durations import parse_duration
from policies.model import Action
from policies.policy import ActionSpec
from policies.settings import (
    PRIORITIES,
    FallbackEscalation,
    PolicySettings,
    QueueSettings,
)
from policies.yamlnodes import IssueLog, check_keys, describe, is_number, key_line, suggest

SETTINGS_KEYS = (
    "continuity_window",
    "min_intent_confidence",
    "timezone",
    "business_hours",
    "holidays",
    "queues",
    "clarify_fallback",
)
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "answer": ("tools", "template"),
    "escalate": ("queue", "priority", "message"),
    "clarify": ("question",),
    "verify_identity": ("message",),
}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def read_settings(log: IssueLog, node: object, line: int) -> tuple[PolicySettings, set[str]]:
    """The typed settings and the names of the settings the file gave."""
    if node is None:
        return PolicySettings(), set()
    if not isinstance(node, Mapping):
        log.error(line, f"settings: expected a mapping, got {describe(node)}")
        return PolicySettings(), set()
    check_keys(log, node, "settings", SETTINGS_KEYS, line)
    values: dict[str, Any] = {}
    given = {str(k) for k in node}

    def at(key: str) -> int:
        return key_line(node, key, line)

    if "continuity_window" in node:
        try:
            values["continuity_window"] = parse_duration(str(node["continuity_window"]))
        except ValueError as exc:
            log.error(at("continuity_window"), f"settings.continuity_window: {exc}")
    if "min_intent_confidence" in node:
        value = node["min_intent_confidence"]
        if not is_number(value) or not 0 <= value <= 1:
            log.error(
                at("min_intent_confidence"),
                f"settings.min_intent_confidence: expected a number from 0 to 1, got {value!r}",
            )
        else:
            values["min_intent_confidence"] = float(value)
    if "timezone" in node:
        name = str(node["timezone"])
        try:
            values["zone"] = ZoneInfo(name)
            values["timezone"] = name
        except (ZoneInfoNotFoundError, ValueError):
            log.error(
                at("timezone"),
                f"settings.timezone: unknown time zone {name!r} (e.g. Europe/Berlin, UTC)",
            )
    if "business_hours" in node:
        hours = _business_hours(log, node["business_hours"], at("business_hours"))
        if hours is not None:
            values["business_hours"] = hours
    if "holidays" in node:
        days = _holidays(log, node["holidays"], at("holidays"))
        if days is not None:
            values["holidays"] = days
    if "queues" in node:
        queues = _queues(log, node["queues"], at("queues"))
        if queues is not None:
            values["queues"] = queues
    settings = PolicySettings(**values)
    if "clarify_fallback" in node:
        fallback = _fallback(log, node["clarify_fallback"], at("clarify_fallback"), settings)
        if fallback is not None:
            settings = PolicySettings(**values, clarify_fallback=fallback)
    return settings, given


def _business_hours(
    log: IssueLog, node: object, line: int
) -> dict[int, tuple[tuple[time, time], ...]] | None:
    where = "settings.business_hours"
    if not isinstance(node, Mapping) or not node:
        log.error(line, f"{where}: expected days and hours, e.g. {{mon-fri: '09:00-17:00'}}")
        return None
    result: dict[int, tuple[tuple[time, time], ...]] = {}
    for key, value in node.items():
        at = key_line(node, key, line)
        days = parse_days(key)
        if days is None:
            log.error(at, f"{where}: {key!r} is not a day or a range of days like mon-fri")
            return None
        spans = value if isinstance(value, list) else [value]
        ranges: list[tuple[time, time]] = []
        for span in spans:
            if span == "closed":
                continue
            parsed = _span(span)
            if parsed is None:
                log.error(
                    at, f"{where}.{key}: {span!r} is not a time range like '09:00-17:30' or closed"
                )
                return None
            ranges.append(parsed)
        for day in days:
            result[day] = tuple(ranges)
    return result


def _span(value: object) -> tuple[time, time] | None:
    match = _HOURS.match(str(value))
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or not (h2 < 24 or (h2 == 24 and m2 == 0)):
        return None
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    return (start, end) if start < end else None


def _holidays(log: IssueLog, node: object, line: int) -> frozenset[date] | None:
    if not isinstance(node, list):
        log.error(line, f"settings.holidays: expected a list of dates, got {describe(node)}")
        return None
    days: set[date] = set()
    for item in node:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(str(item)))
        except ValueError:
            log.error(line, f"settings.holidays: {item!r} is not a date like 2026-12-25")
            return None
    return frozenset(days)


def _queues(log: IssueLog, node: object, line: int) -> dict[str, QueueSettings] | None:
    if not isinstance(node, Mapping) or not node:
        log.error(
            line, "settings.queues: expected queue names, e.g. {support: {claim_within: 15m}}"
        )
        return None
    queues: dict[str, QueueSettings] = {}
    for name, value in node.items():
        at = key_line(node, name, line)
        where = f"settings.queues.{name}"
        if value is None:
            queues[str(name)] = QueueSettings(str(name))
            continue
        if not isinstance(value, Mapping):
            log.error(at, f"{where}: expected a mapping, got {describe(value)}")
            return None
        check_keys(log, value, where, ("claim_within", "description", "slack_channel"), at)
        claim: timedelta | None = None
        if "claim_within" in value:
            try:
                claim = parse_duration(str(value["claim_within"]))
            except ValueError as exc:
                log.error(key_line(value, "claim_within", at), f"{where}.claim_within: {exc}")
                return None
        description = value.get("description")
        channel = value.get("slack_channel")
        queues[str(name)] = QueueSettings(
            str(name),
            claim,
            None if description is None else str(description),
            None if channel is None else str(channel),
        )
    return queues


# What an escalation's own message may say about the wait (filled by the responder).
WAIT_PLACEHOLDERS = ("opens_at", "claim_within")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _fallback(
    log: IssueLog, node: object, line: int, settings: PolicySettings
) -> FallbackEscalation | None:
    spec = read_action(log, {"escalate": node}, "settings.clarify_fallback", line, settings)
    if spec is None:
        return None
    return FallbackEscalation(spec.queue or "support", spec.priority or "normal", spec.message)


def default_queue(settings: PolicySettings) -> str:
    if not settings.queues or "support" in settings.queues:
        return "support"
    return next(iter(settings.queues))


def read_action(
    log: IssueLog, node: object, where: str, line: int, settings: PolicySettings
) -> ActionSpec | None:
    """``answer`` / ``{escalate: {queue: billing, priority: high}}`` → :class:`ActionSpec`."""
    names = list(ACTION_PARAMS)
    if isinstance(node, str):
        name, params, at = node, None, line
    elif isinstance(node, Mapping) and len(node) == 1:
        name, params = next(iter(node.items()))
        at = key_line(node, name, line)
    else:
        log.error(
            line,
            f"{where}: expected one action ({', '.join(names)}), e.g. "
            "'answer' or {escalate: {queue: support}}",
        )
        return None
    if name not in ACTION_PARAMS:
        log.error(at, f"{where}: unknown action '{name}'{suggest(str(name), names)}")
        return None
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        log.error(at, f"{where}.{name}: expected a mapping of options, got {describe(params)}")
        return None
    before = len(log.issues)
    check_keys(log, params, f"{where}.{name}", ACTION_PARAMS[name], at)
    text: dict[str, str | None] = {}
    for key in ("queue", "priority", "message", "question", "template"):
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            log.error(key_line(params, key, at), f"{where}.{name}.{key}: expected text")
        text[key] = None if value is None else str(value)
    tools: tuple[str, ...] | None = None
    if "tools" in params:
        raw = params["tools"]
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            log.error(key_line(params, "tools", at), f"{where}.{name}.tools: expected a list")
        else:
            tools = tuple(str(t) for t in raw)
    if name == "escalate" and text["message"]:
        for unknown in sorted(set(_PLACEHOLDER.findall(text["message"])) - set(WAIT_PLACEHOLDERS)):
            log.error(
                key_line(params, "message", at),
                f"{where}.escalate.message: unknown placeholder {{{unknown}}}"
                f"{suggest(unknown, WAIT_PLACEHOLDERS)} (a message may use "
                f"{', '.join('{' + p + '}' for p in WAIT_PLACEHOLDERS)})",
            )
    if name == "escalate":
        queue = text["queue"] or default_queue(settings)
        if settings.queues and queue not in settings.queues:
            log.error(
                key_line(params, "queue", at),
                f"{where}.escalate.queue: unknown queue '{queue}'"
                f"{suggest(queue, settings.queues)} (settings.queues has: "
                f"{', '.join(settings.queues)})",
            )
        priority = text["priority"] or "normal"
        if priority not in PRIORITIES:
            log.error(
                key_line(params, "priority", at),
                f"{where}.escalate.priority: '{priority}' is not one of {', '.join(PRIORITIES)}",
            )
        text["queue"], text["priority"] = queue, priority
    if len(log.issues) > before:
        return None
    return ActionSpec(
        action=Action(name),
        queue=text["queue"],
        priority=text["priority"],
        message=text["message"],
        question=text["question"],
        tools=tools,
        template=text["template"],
    )
