"""Hot reload: a good edit goes live; a bad one is refused and the last good policy keeps going."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.engine import decide
from policies.errors import PolicyError
from policies.holder import PolicyHolder
from policies.model import Action
from tests.policies.builders import make_input

ANSWER_GREETINGS = """version: 1
rules:
  - id: hello
    when: {intent: greeting}
    then: answer
default: {clarify: {}}
"""
ESCALATE_GREETINGS = ANSWER_GREETINGS.replace("then: answer", "then: escalate")
BROKEN = ANSWER_GREETINGS.replace("intent: greeting", "intnet: greeting")


def test_first_load_must_succeed(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(BROKEN)
    with pytest.raises(PolicyError):
        PolicyHolder(path)


def test_good_then_bad_then_good(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(ANSWER_GREETINGS)
    holder = PolicyHolder(path)
    first_version = holder.version
    assert decide(holder.policy, make_input()).action is Action.ANSWER

    path.write_text(BROKEN)
    with caplog.at_level(logging.ERROR, logger="policies.holder"):
        issues = holder.reload()
    assert [(i.line, i.message.split(" (")[0]) for i in issues] == [
        (4, "rules[0].when: unknown condition 'intnet'")
    ]
    assert holder.version == first_version
    assert decide(holder.policy, make_input()).action is Action.ANSWER
    assert f"{path}:4: rules[0].when: unknown condition 'intnet'" in caplog.text
    assert f"still running version {first_version}" in caplog.text
    assert holder.last_issues == issues

    path.write_text(ESCALATE_GREETINGS)
    assert holder.reload() == ()
    assert holder.version != first_version
    assert holder.last_issues == ()
    assert decide(holder.policy, make_input()).action is Action.ESCALATE


async def _wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polling what the watcher task changes
            await asyncio.sleep(0.05)


async def test_watch_reloads_on_change_and_keeps_the_last_good_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(ANSWER_GREETINGS)
    holder = PolicyHolder(path)
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop_event=stop))
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        path.write_text(BROKEN)
        await _wait_for(lambda: holder.last_issues != ())
        assert decide(holder.policy, make_input()).action is Action.ANSWER

        path.write_text(ESCALATE_GREETINGS)
        await _wait_for(lambda: decide(holder.policy, make_input()).action is Action.ESCALATE)
        assert holder.last_issues == ()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_watch_ignores_case_files_next_to_a_policy_folder(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(ANSWER_GREETINGS)
    holder = PolicyHolder(tmp_path)
    reloads: list[str] = []
    original = holder.reload

    def counting_reload() -> tuple[object, ...]:
        reloads.append("reload")
        return original()

    holder.reload = counting_reload  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop_event=stop))
    try:
        await asyncio.sleep(0.3)
        (tmp_path / "cases.yaml").write_text("- name: x\n")
        await asyncio.sleep(0.6)
        assert reloads == []
        (tmp_path / "extra.yaml").write_text(
            "version: 1\nrules:\n  - id: bye\n    when: {intent: goodbye}\n    then: answer\n"
        )
        await _wait_for(lambda: [r.id for r in holder.policy.rules] == ["bye", "hello"])
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
