"""Load a policy from a YAML file or a folder of ``*.yaml`` files, validating everything.

Rules from a folder are concatenated in file-name order. Files named ``cases.yaml`` or
``*.cases.yaml`` hold test cases (see :mod:`policies.cases`) and are skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from policies.conditions import ConditionCompiler
from policies.errors import PolicyError, PolicyIssue
from policies.index import build_index
from policies.policy import DEFAULT_RULE_ID, ActionSpec, Policy, Rule
from policies.sections import read_action, read_settings
from policies.settings import PolicySettings
from policies.yamlnodes import IssueLog, check_keys, describe, item_line, key_line, line_of

LANGUAGE_VERSION = 1
TOP_KEYS = ("version", "settings", "rules", "default", "default_reason")
RULE_KEYS = ("id", "when", "then", "reason", "description", "enabled")
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "default" / "policy.yaml"
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, slots=True)
class _Document:
    log: IssueLog
    data: Mapping[Any, Any]


def is_cases_file(path: Path) -> bool:
    """Test cases and intent examples may live beside the policy; they are not rules."""
    return path.name in ("cases.yaml", "cases.yml", "intents.yaml", "intents.yml") or (
        path.name.endswith((".cases.yaml", ".cases.yml", ".intents.yaml", ".intents.yml"))
    )


def policy_files(path: Path) -> list[Path]:
    """The policy files at ``path`` (a file, or a folder's ``*.yaml`` in name order)."""
    if path.is_dir():
        found = sorted(
            p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and not is_cases_file(p)
        )
        if not found:
            raise PolicyError([PolicyIssue(str(path), 0, "folder has no *.yaml policy files")])
        return found
    if not path.exists():
        raise PolicyError([PolicyIssue(str(path), 0, "no such policy file or folder")])
    return [path]


def read_yaml(path: Path, log: IssueLog) -> tuple[Any, bytes]:
    """Parse one YAML file keeping line numbers, and its raw bytes; problems go to ``log``."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        log.error(0, f"cannot read the file: {exc.strerror or exc}")
        return None, b""
    except UnicodeDecodeError:
        log.error(0, "cannot read the file: it is not UTF-8 text")
        return None, b""
    try:
        return YAML(typ="rt").load(text), raw
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(problem):
            problem = f"{problem} (each key may appear once in a mapping)"
        log.error(line, f"not valid YAML: {problem}")
    except YAMLError as exc:
        log.error(0, f"not valid YAML: {exc}")
    return None, raw


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy; raises :class:`PolicyError` listing every issue found."""
    root = Path(path) if path is not None else DEFAULT_POLICY_PATH
    files = policy_files(root)
    digest = hashlib.sha256()
    documents: list[_Document] = []
    issues: list[PolicyIssue] = []
    for file in files:
        log = IssueLog(str(file))
        data, raw = read_yaml(file, log)
        digest.update(file.name.encode() + b"\0" + raw + b"\0")
        if data is not None:
            _check_top(log, data)
            if isinstance(data, Mapping):
                documents.append(_Document(log, data))
        issues.extend(log.issues)
    if issues:
        raise PolicyError(issues)
    return _build(documents, digest.hexdigest()[:12], tuple(str(f) for f in files))


def _check_top(log: IssueLog, data: Any) -> None:
    if not isinstance(data, Mapping):
        log.error(
            line_of(data, 1), f"expected a policy mapping (version, rules, …), got {describe(data)}"
        )
        return
    check_keys(log, data, "policy", TOP_KEYS, 1)
    version = data.get("version")
    if version is None:
        log.error(1, f"missing 'version: {LANGUAGE_VERSION}' at the top of the file")
    elif version != LANGUAGE_VERSION:
        log.error(
            key_line(data, "version", 1),
            f"version: this Threadline reads policy version {LANGUAGE_VERSION}, "
            f"the file says {version!r}",
        )


def _build(documents: list[_Document], version: str, sources: tuple[str, ...]) -> Policy:
    settings, given, settings_doc = PolicySettings(), set[str](), None
    issues: list[PolicyIssue] = []
    for doc in documents:
        if "settings" not in doc.data:
            continue
        at = key_line(doc.data, "settings", 1)
        if settings_doc is not None:
            doc.log.error(
                at, f"settings: already given in {settings_doc}; keep one settings section"
            )
            continue
        settings, given = read_settings(doc.log, doc.data["settings"], at)
        settings_doc = doc.log.file
    rules: list[Rule] = []
    seen_ids: dict[str, str] = {}
    default: ActionSpec | None = None
    default_reason: str | None = None
    default_doc: str | None = None
    for doc in documents:
        compiler = ConditionCompiler(doc.log, settings, given)
        raw_rules = doc.data.get("rules")
        if raw_rules is not None:
            rules.extend(_rules(doc.log, raw_rules, compiler, settings, seen_ids))
        if "default" in doc.data:
            at = key_line(doc.data, "default", 1)
            if default_doc is not None:
                doc.log.error(at, f"default: already given in {default_doc}; keep one default")
            else:
                default = read_action(doc.log, doc.data["default"], "default", at, settings)
                default_doc = doc.log.file
        if "default_reason" in doc.data:
            default_reason = str(doc.data["default_reason"])
        issues.extend(doc.log.issues)
    if default_doc is None and not issues:
        issues.append(
            PolicyIssue(
                sources[-1],
                0,
                "no 'default:' action (what to do when no rule matches), "
                "e.g. default: {clarify: {}}",
            )
        )
    if issues:
        raise PolicyError(issues)
    assert default is not None
    by_intent, unrestricted = build_index([r.condition for r in rules])
    return Policy(
        rules=tuple(rules),
        default=default,
        settings=settings,
        version=version,
        sources=sources,
        default_reason=default_reason,
        checks=tuple(r.condition.check for r in rules),
        by_intent=by_intent,
        unrestricted=unrestricted,
    )


def _rules(
    log: IssueLog,
    node: object,
    compiler: ConditionCompiler,
    settings: PolicySettings,
    seen_ids: dict[str, str],
) -> list[Rule]:
    if not isinstance(node, list):
        log.error(line_of(node, 1), f"rules: expected a list of rules, got {describe(node)}")
        return []
    rules: list[Rule] = []
    for index, item in enumerate(node):
        where = f"rules[{index}]"
        line = item_line(node, index, line_of(node, 1))
        if not isinstance(item, Mapping):
            log.error(line, f"{where}: expected a rule (id, when, then), got {describe(item)}")
            continue
        check_keys(log, item, where, RULE_KEYS, line)
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            log.error(
                key_line(item, "id", line),
                f"{where}.id: every rule needs an id made of letters, digits, '-', '_' or '.'"
                + ("" if rule_id is None else f", got {rule_id!r}"),
            )
            rule_id = None
        elif rule_id == DEFAULT_RULE_ID:
            log.error(key_line(item, "id", line), f"{where}.id: 'default' is reserved")
            rule_id = None
        elif rule_id in seen_ids:
            log.error(
                key_line(item, "id", line),
                f"{where}.id: duplicate rule id '{rule_id}' (first used at {seen_ids[rule_id]})",
            )
        else:
            seen_ids[rule_id] = f"{log.file}:{key_line(item, 'id', line)}"
        for key in ("when", "then"):
            if key not in item:
                log.error(line, f"{where}: missing '{key}:'")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            log.error(key_line(item, "enabled", line), f"{where}.enabled: expected true or false")
        reason, description = item.get("reason"), item.get("description")
        for key, value in (("reason", reason), ("description", description)):
            if value is not None and not isinstance(value, str):
                log.error(key_line(item, key, line), f"{where}.{key}: expected text")
        condition = None
        if "when" in item:
            condition = compiler.compile(
                item["when"], f"{where}.when", key_line(item, "when", line)
            )
        then = None
        if "then" in item:
            then = read_action(
                log, item["then"], f"{where}.then", key_line(item, "then", line), settings
            )
        if condition is None or then is None or rule_id is None or enabled is not True:
            continue
        rules.append(
            Rule(
                id=rule_id,
                condition=condition,
                then=then,
                reason=None if reason is None else str(reason),
                description=None if description is None else str(description),
                file=log.file,
                line=line,
            )
        )
    return rules
