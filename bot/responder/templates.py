"""Reply templates in a YAML file that operators edit, validated when loaded.

Format (``templates.yaml`` next to this module is the shipped default; an operator's file only
needs the entries it changes, the rest come from the default)::

    version: 1
    settings:
      return_window_days: 30        # days after delivery an order can be returned
      timezone: Europe/Berlin       # dates are shown as calendar days in this zone
    teams:                          # how an escalation names who takes over, by queue
      default: a person on our team
      billing: our billing team
    templates:
      thanks: "You're welcome, {first_name}!"
      order.pending:
        text: "Your order {order_id} ... "
        quick_replies: ["Talk to a person"]

Templates are rendered with ``str.format_map`` over display strings only. Every placeholder is
checked against the fields that template may use (see ``template_names.py``) at load time; at
render time a field that the data does not have (no tracking number yet) raises
:class:`MissingField`, and the responder moves on to the next variant.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from string import Formatter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.responder.fields import MONTHS, ORDER_FIELDS
from bot.responder.template_names import REQUIRED, field_spec
from policies.settings import StaffWait

DEFAULT_PATH = Path(__file__).with_name("templates.yaml")
MAX_QUICK_REPLIES = 6
TOP_LEVEL_KEYS = frozenset({"version", "settings", "teams", "templates"})
SETTING_KEYS = frozenset({"return_window_days", "timezone"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The placeholders a policy rule's own escalation ``message`` may use (see wait_fields).
POLICY_MESSAGE_FIELDS = ("opens_at", "claim_within")
_POLICY_PLACEHOLDER = re.compile(r"\{(" + "|".join(POLICY_MESSAGE_FIELDS) + r")\}")

log = logging.getLogger(__name__)


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and line."""


class MissingField(LookupError):
    """A template needs a field that this order or customer does not have."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    text: str
    quick_replies: tuple[str, ...] = ()
    source: str = ""  # "file:line", for messages to the operator


@dataclass(frozen=True, slots=True)
class Rendered:
    name: str
    text: str
    quick_replies: tuple[str, ...]


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise MissingField(key)


class Templates:
    """A validated set of templates plus the settings they are rendered with."""

    def __init__(
        self,
        templates: Mapping[str, Template],
        *,
        return_window_days: int,
        timezone: str,
        teams: Mapping[str, str],
    ) -> None:
        self._templates = dict(templates)
        self.return_window_days = return_window_days
        self.timezone_name = timezone
        self.zone: tzinfo = UTC if timezone.upper() == "UTC" else ZoneInfo(timezone)
        self._teams = dict(teams)

    @classmethod
    def default(cls) -> Templates:
        return cls.parse(DEFAULT_PATH.read_text(encoding="utf-8"), str(DEFAULT_PATH))

    @classmethod
    def load(cls, path: Path | str) -> Templates:
        """An operator's file over the shipped default; ``TemplateError`` if it is invalid."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read the template file: {exc}") from exc
        return cls.parse(text, str(path), base=cls.default())

    @classmethod
    def parse(cls, text: str, source: str, *, base: Templates | None = None) -> Templates:
        data = _read_yaml(text, source)
        unknown = set(data) - TOP_LEVEL_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise TemplateError(
                f"{_where(source, data, key)}: unknown key {key!r}; "
                f"expected {', '.join(sorted(TOP_LEVEL_KEYS))}"
            )
        if data.get("version", 1) != 1:
            raise TemplateError(f"{_where(source, data, 'version')}: only version 1 is known")

        settings = _mapping(data, "settings", source)
        for key in settings:
            if key not in SETTING_KEYS:
                raise TemplateError(
                    f"{_where(source, settings, key)}: unknown setting {key!r}; "
                    f"expected {', '.join(sorted(SETTING_KEYS))}"
                )
        window = settings.get("return_window_days")
        if window is None:
            window = base.return_window_days if base else 30
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 3650:
            where = _where(source, settings, "return_window_days")
            raise TemplateError(f"{where}: return_window_days must be a whole number of days")
        zone = settings.get("timezone")
        if zone is None:
            zone = base.timezone_name if base else "UTC"
        if not isinstance(zone, str) or not _valid_zone(zone):
            where = _where(source, settings, "timezone")
            raise TemplateError(f"{where}: unknown time zone {zone!r} (e.g. Europe/Berlin)")

        teams = dict(base._teams) if base else {}
        raw_teams = _mapping(data, "teams", source)
        for queue, phrase in raw_teams.items():
            if not isinstance(phrase, str) or not phrase.strip():
                raise TemplateError(f"{_where(source, raw_teams, queue)}: a team needs a name")
            teams[str(queue)] = phrase.strip()
        if "default" not in teams:
            raise TemplateError(f"{source}: teams must name a 'default' team")

        templates = dict(base._templates) if base else {}
        raw_templates = _mapping(data, "templates", source)
        for name, value in raw_templates.items():
            templates[str(name)] = _template(str(name), value, source, raw_templates)
        missing = [name for name in REQUIRED if name not in templates]
        if missing:
            raise TemplateError(f"{source}: missing templates: {', '.join(missing)}")
        return cls(templates, return_window_days=window, timezone=zone, teams=teams)

    def has(self, name: str) -> bool:
        return name in self._templates

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._templates))

    def uses_order_fields(self, name: str) -> bool:
        """Whether the template shows anything about an order (so it needs a verified owner)."""
        template = self._templates[name]
        used = _placeholders(template.text)
        for reply in template.quick_replies:
            used |= _placeholders(reply)
        return bool(used & ORDER_FIELDS)

    def team(self, queue: str | None) -> str:
        if queue and queue in self._teams:
            return self._teams[queue]
        return self._teams["default"]

    def render(self, name: str, fields: Mapping[str, str]) -> Rendered:
        """Render one template; ``MissingField`` when the text needs a field not given.

        A quick reply that needs a missing field is left out rather than failing the reply.
        """
        template = self._templates[name]
        values = _Fields(fields)
        text = template.text.format_map(values).strip()
        return Rendered(name, text, self.render_quick_replies(name, fields))

    def render_quick_replies(self, name: str, fields: Mapping[str, str]) -> tuple[str, ...]:
        values = _Fields(fields)
        replies: list[str] = []
        for reply in self._templates[name].quick_replies:
            try:
                replies.append(reply.format_map(values).strip())
            except MissingField as exc:
                log.debug("quick reply of %s left out: no %s", name, exc.field)
        return tuple(replies)

    def render_first(self, names: Iterable[str], fields: Mapping[str, str]) -> Rendered | None:
        """The first of ``names`` that exists and renders with ``fields``, else None."""
        for name in names:
            if name not in self._templates:
                continue
            try:
                return self.render(name, fields)
            except MissingField as exc:
                log.debug("template %s skipped: no %s", name, exc.field)
        return None


def _read_yaml(text: str, source: str) -> Any:
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise TemplateError(f"{source}: the file must be a mapping with a 'templates' key")
    return data


def _mapping(data: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TemplateError(f"{_where(source, data, key)}: {key!r} must be a mapping")
    return value


def _template(name: str, value: Any, source: str, parent: Mapping[str, Any]) -> Template:
    where = _where(source, parent, name)
    try:
        spec = field_spec(name)
    except ValueError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    text: Any
    replies_raw: Any
    if isinstance(value, str):
        text, replies_raw = value, []
    elif isinstance(value, Mapping):
        extra = set(value) - {"text", "quick_replies"}
        if extra:
            raise TemplateError(f"{where}: unknown key {sorted(extra)[0]!r} in template {name!r}")
        text, replies_raw = value.get("text"), value.get("quick_replies") or []
    else:
        raise TemplateError(f"{where}: template {name!r} must be text or {{text, quick_replies}}")
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"{where}: template {name!r} has no text")
    if not isinstance(replies_raw, list) or not all(
        isinstance(r, str) and r.strip() for r in replies_raw
    ):
        raise TemplateError(f"{where}: quick_replies of {name!r} must be a list of short texts")
    if len(replies_raw) > MAX_QUICK_REPLIES:
        raise TemplateError(f"{where}: at most {MAX_QUICK_REPLIES} quick replies per template")
    _check_placeholders(name, text, spec.text, where)
    for reply in replies_raw:
        _check_placeholders(name, reply, spec.quick_replies, where)
    return Template(name, text, tuple(replies_raw), where)


def _check_placeholders(name: str, text: str, allowed: frozenset[str], where: str) -> None:
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"{where}: template {name!r}: {exc} (write {{{{ and }}}} for literal braces)"
        ) from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier():
            raise TemplateError(
                f"{where}: template {name!r}: placeholder {{{field}}} must be a plain field name"
            )
        if conversion or (spec and "{" in spec):
            raise TemplateError(f"{where}: template {name!r}: write {{{field}}} without options")
        if field not in allowed:
            raise TemplateError(
                f"{where}: template {name!r} uses unknown placeholder {{{field}}}; "
                f"it may use: {', '.join(sorted(allowed))}"
            )


def _placeholders(text: str) -> set[str]:
    return {field for _l, field, _s, _c in Formatter().parse(text) if field}


def _where(source: str, parent: Any, key: Any) -> str:
    """``file:line`` of a key in a ruamel mapping (lines counted from 1)."""
    lc = getattr(parent, "lc", None)
    try:
        line = lc.key(key)[0] + 1 if lc is not None else None
    except (KeyError, TypeError):
        line = None
    return f"{source}:{line}" if line is not None else source


def _valid_zone(name: str) -> bool:
    if name.upper() == "UTC":
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# --- how a wait for a person is said ----------------------------------------------------


def say_duration(value: timedelta) -> str:
    """``15 minutes``, ``1 hour``, ``1 hour and 30 minutes``, ``2 days``: a wait as people say it.

    Rounded up to whole minutes, so a target is never told shorter than it is.
    """
    minutes = max(1, math.ceil(value.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [_count(n, unit) for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))]
    said = [part for part in parts if part]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def say_opening(opens_at: datetime, zone: tzinfo, now: datetime | None = None) -> str:
    """``today at 09:00``, ``tomorrow at 09:00``, ``on Monday at 09:00``, or with the date
    (``on Monday 4 January at 09:00``) a week or more ahead: local time in ``zone``."""
    local = opens_at.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    weekday = WEEKDAYS[local.weekday()]
    if now is None:
        return f"on {weekday} {local.day} {MONTHS[local.month - 1]} at {clock}"
    ahead = (local.date() - now.astimezone(zone).date()).days
    if ahead <= 0:
        return f"today at {clock}"
    if ahead == 1:
        return f"tomorrow at {clock}"
    if ahead < 7:
        return f"on {weekday} at {clock}"
    return f"on {weekday} {local.day} {MONTHS[local.month - 1]} at {clock}"


def wait_fields(wait: StaffWait) -> dict[str, str]:
    """``claim_within`` and ``opens_at`` as the customer reads them; each only when known."""
    fields: dict[str, str] = {}
    if wait.claim_within is not None:
        fields["claim_within"] = say_duration(wait.claim_within)
    if wait.opens_at is not None:
        fields["opens_at"] = say_opening(wait.opens_at, wait.zone, wait.at)
    return fields


def policy_message_fields(text: str) -> set[str]:
    """The wait placeholders (``{opens_at}``, ``{claim_within}``) a rule's message uses."""
    return set(_POLICY_PLACEHOLDER.findall(text))


def fill_policy_message(text: str, fields: Mapping[str, str]) -> str | None:
    """A rule's own message with its wait placeholders filled; None when one is not known.

    Only those two placeholders are touched: any other brace in an admin's message is shown
    as written, as it was before placeholders existed.
    """
    if not policy_message_fields(text) <= fields.keys():
        return None
    return _POLICY_PLACEHOLDER.sub(lambda match: fields[match.group(1)], text)


def _count(n: int, unit: str) -> str:
    if n == 0:
        return ""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
