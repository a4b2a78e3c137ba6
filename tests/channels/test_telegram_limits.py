"""Replies fit Telegram: split at its length limit, buttons as a keyboard, sent within its rates."""

from __future__ import annotations

import asyncio
import itertools

from channels.telegram import SendLimiter
from channels.telegram.outgoing import options_as_text, quick_reply_keyboard, split_text


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_short_text_is_one_message() -> None:
    assert split_text("  Your order shipped.  ") == ["Your order shipped."]


def test_long_text_splits_at_paragraphs_and_never_exceeds_the_limit() -> None:
    paragraph = "word " * 150  # 750 characters
    text = "\n\n".join([paragraph.strip()] * 8)
    chunks = split_text(text, limit=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert len(chunks) == 8
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_text_without_spaces_is_cut_hard_at_the_limit() -> None:
    chunks = split_text("x" * 2500, limit=1000)
    assert [len(c) for c in chunks] == [1000, 1000, 500]


def test_quick_replies_are_a_one_time_keyboard_short_ones_two_to_a_row() -> None:
    short = quick_reply_keyboard(["Track order", "Returns", "Talk to a person"])
    assert [[b.text for b in row] for row in short.keyboard] == [
        ["Track order", "Returns"],
        ["Talk to a person"],
    ]
    assert short.one_time_keyboard is True
    long = quick_reply_keyboard(["Where is my order from last week?", "Returns"])
    assert [[b.text for b in row] for row in long.keyboard] == [
        ["Where is my order from last week?"],
        ["Returns"],
    ]


def test_text_fallback_lists_the_options_under_the_message() -> None:
    assert options_as_text("Which order?", ["#1042", "#1077"]) == "Which order?\n\n• #1042\n• #1077"


async def test_one_chat_gets_at_most_one_message_per_second() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep)
    times = []
    for _ in range(3):
        await limiter.wait("42")
        times.append(t.now)
    assert times == [1000.0, 1001.0, 1002.0]


async def test_different_chats_are_spaced_by_the_overall_rate_only() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep)
    times = []
    for chat in range(60):
        await limiter.wait(str(chat))
        times.append(t.now)
    # 30 per second overall: the 60th message goes out two seconds after the first, not later.
    assert times[-1] - times[0] <= 2.0
    assert times[30] - times[0] >= 1.0 - 1e-9


async def test_concurrent_senders_wait_their_turn_and_none_is_dropped() -> None:
    t = FakeTime()
    limiter = SendLimiter(clock=t, sleep=t.sleep)
    sent: list[tuple[str, float]] = []

    async def send(chat: str) -> None:
        await limiter.wait(chat)
        sent.append((chat, t.now))

    await asyncio.gather(*(send(chat) for chat in ["a", "a", "b", "a", "b"]))
    assert len(sent) == 5
    for chat in ("a", "b"):
        moments = [at for c, at in sent if c == chat]
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(moments))
