"""A fake OpenAI-compatible model server: real aiohttp on 127.0.0.1, scripted per test.

Each model name has its own queue of scripted answers (``text``, ``tool_calls``, ``error``,
``hang``); a model with an empty queue uses its ``default`` answer when one is set. Every request
is recorded (model, messages, tools) so tests assert on what was *sent* to the model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any

from aiohttp import web

from bot.bootstrap import Runtime
from bot.ports import Understander
from bot.responder import OfflineResponder, Templates
from bot.settings import Settings
from bot.wire_llm import llm_parts
from bot.worker import Worker
from memory.context import ContextLimits
from memory.demo import KNOWLEDGE_DIR
from memory.knowledge import RECOMMENDED_THRESHOLD, KnowledgeBase
from memory.knowledge_holder import KnowledgeHolder
from memory.unit_of_work import SqlUnitOfWorkFactory


@dataclass(frozen=True)
class Scripted:
    """One answer: text, tool calls (name, raw JSON arguments), an HTTP error, or a hang."""

    text: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()
    status: int = 200
    hang: float = 0.0
    prompt_tokens: int = 120
    completion_tokens: int = 30


def text(value: str) -> Scripted:
    return Scripted(text=value)


def tool_call(name: str, arguments: dict[str, Any] | str) -> Scripted:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return Scripted(tool_calls=((name, raw),))


def tool_calls(*calls: tuple[str, dict[str, Any] | str]) -> Scripted:
    return Scripted(
        tool_calls=tuple((n, a if isinstance(a, str) else json.dumps(a)) for n, a in calls)
    )


def error(status: int = 500) -> Scripted:
    return Scripted(status=status)


def hang(seconds: float = 30.0) -> Scripted:
    return Scripted(hang=seconds)


@dataclass
class FakeLlm:
    """The server's state: scripts per model and every request received."""

    scripts: dict[str, list[Scripted]] = field(default_factory=dict)
    defaults: dict[str, Scripted | Callable[[dict[str, Any]], Scripted]] = field(
        default_factory=dict
    )
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _ids: count[int] = field(default_factory=lambda: count(1))

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, model: str, *answers: Scripted) -> None:
        self.scripts.setdefault(model, []).extend(answers)

    def requests_to(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]

    def sent_text(self) -> str:
        """Everything sent to any model, as one string (messages and tools)."""
        return json.dumps(self.requests, ensure_ascii=False)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        model = str(body.get("model"))
        queue = self.scripts.get(model, [])
        if queue:
            answer = queue.pop(0)
        else:
            fallback = self.defaults.get(model)
            if fallback is None:
                return web.json_response(
                    {"error": {"message": f"nothing scripted for {model}"}}, status=500
                )
            answer = fallback(body) if callable(fallback) else fallback
        if answer.hang:
            await asyncio.sleep(answer.hang)
        if answer.status != 200:
            return web.json_response(
                {"error": {"message": "scripted failure", "type": "server_error"}},
                status=answer.status,
            )
        return web.json_response(self._completion(model, answer))

    def _completion(self, model: str, answer: Scripted) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        finish = "stop"
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for name, arguments in answer.tool_calls
            ]
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": 1_800_000_000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            },
        }


@asynccontextmanager
async def fake_llm_server() -> AsyncIterator[FakeLlm]:
    fake = FakeLlm()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    try:
        yield fake
    finally:
        await runner.cleanup()


def model_settings(
    base: Settings, fake: FakeLlm, *, fallbacks: str = "", timeout: float = 5.0
) -> Settings:
    """``base`` with the main model (and fallbacks) pointed at ``fake``."""
    return base.model_copy(
        update={
            "model": "openai/main-model",
            "llm_api_base": fake.api_base,
            "llm_api_key": "test-key",
            "llm_fallback_models": fallbacks or None,
            "llm_timeout": timeout,
        }
    )


def use_model(runtime: Runtime, settings: Settings, understander: Understander) -> None:
    """Answer and understand through the model ``settings`` names (exactly as configured)."""
    offline = OfflineResponder(
        KnowledgeBase.load(KNOWLEDGE_DIR),
        Templates.default(),
        min_confidence=RECOMMENDED_THRESHOLD,
        clock=runtime.clock,
    )
    parts = llm_parts(
        settings,
        knowledge=KnowledgeHolder(KNOWLEDGE_DIR),
        orders=runtime.pipeline.orders,
        offline_responder=offline,
        offline_understander=understander,
        clock=runtime.clock,
    )
    assert parts is not None, "a model is configured"
    responder, llm_understander = parts
    # As build_runtime wires a model: its prompt carries the conversation's turns.
    runtime.context_limits = ContextLimits(turn_texts=True)
    orders = runtime.pipeline.orders
    runtime.pipeline = replace(
        runtime.pipeline,
        uow=SqlUnitOfWorkFactory(runtime.session_factory, orders, runtime.context_limits),
        reads=SqlUnitOfWorkFactory(runtime.read_factory, orders, runtime.context_limits),
        responder=responder,
        understander=llm_understander,
    )
    runtime.worker = Worker(runtime.session_factory, runtime.pipeline, clock=runtime.clock)
