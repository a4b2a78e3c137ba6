"""The polling loop behind the worker and the senders: no wake-up is ever lost."""

from __future__ import annotations

import asyncio

from bot.polling_loop import PollingLoop

POLL_S = 60.0  # far longer than the tests wait: only wake() can start a cycle


async def run_until(loop: PollingLoop, reached: asyncio.Event) -> None:
    """Run ``loop`` until ``reached`` is set (at most 10 s), then stop it."""
    await loop.start()
    try:
        async with asyncio.timeout(10):
            await reached.wait()
    finally:
        await loop.stop()


async def test_news_that_arrives_during_a_cycle_starts_another() -> None:
    """Work committed after a cycle's query must not wait for the next poll."""
    cycles = 0
    second_cycle = asyncio.Event()
    loop: PollingLoop

    async def cycle() -> int:
        nonlocal cycles
        cycles += 1
        if cycles == 1:
            loop.wake()  # news arrives while this cycle runs; it found nothing yet
            await asyncio.sleep(0)
        else:
            second_cycle.set()
        return 0

    loop = PollingLoop("test", cycle, poll_interval=POLL_S)
    await run_until(loop, second_cycle)
    assert cycles == 2


async def test_it_drains_while_there_is_work_then_sleeps_until_woken() -> None:
    backlog = [3, 2, 0]
    handled: list[int] = []
    idle = asyncio.Event()

    async def cycle() -> int:
        count = backlog.pop(0) if backlog else 0
        handled.append(count)
        if count == 0:
            idle.set()
        return count

    loop = PollingLoop("test", cycle, poll_interval=POLL_S)
    await loop.start()
    try:
        async with asyncio.timeout(10):
            await idle.wait()
        assert handled == [3, 2, 0]
        idle.clear()
        backlog.append(1)
        loop.wake()
        async with asyncio.timeout(10):
            await idle.wait()
        assert handled == [3, 2, 0, 1, 0]
    finally:
        await loop.stop()


async def test_a_failing_cycle_is_retried_not_fatal() -> None:
    calls = 0
    recovered = asyncio.Event()

    async def cycle() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        recovered.set()
        return 0

    loop = PollingLoop("test", cycle, poll_interval=0.01)
    await run_until(loop, recovered)
    assert calls >= 2


async def test_after_work_a_lingering_loop_lets_the_process_gather_the_next_round() -> None:
    """What other tasks of the process store while the loop lingers is taken in one cycle;
    without lingering the next cycle runs before they get the chance."""

    async def rounds(linger: float) -> list[int]:
        pending = [1]
        taken: list[int] = []
        done = asyncio.Event()
        loop: PollingLoop

        async def arrive() -> None:  # a web side taking in three messages, 20 ms apart
            for _ in range(3):
                await asyncio.sleep(0.02)
                pending.append(1)
                loop.wake()

        async def cycle() -> int:
            count = len(pending)
            pending.clear()
            taken.append(count)
            if len(taken) == 1:
                asyncio.get_running_loop().create_task(arrive())
            if sum(taken) == 4:
                done.set()
            return count

        loop = PollingLoop("test", cycle, poll_interval=POLL_S, linger=linger)
        await run_until(loop, done)
        return [n for n in taken if n]

    assert await rounds(linger=0.2) == [1, 3]
    assert len(await rounds(linger=0.0)) > 2
