"""The one place Threadline talks to a model: litellm's Router, imported on first use.

``import litellm`` takes seconds and a lot of memory, so it happens inside the first call,
never at start-up or on the webhook path, and with litellm's offline settings (no price-map
download) unless the environment already chose. The Router tries the main model, then each
fallback in order, with one ``timeout`` per attempt and no hidden retries; when all fail,
:class:`LlmUnavailable` is raised.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


class LlmUnavailable(Exception):
    """Every configured model failed or timed out for this call."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model and where to reach it."""

    model: str  # a litellm model name, e.g. "openai/gpt-4o-mini" or "ollama_chat/llama3.1"
    api_base: str | None = None
    api_key: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it (maybe malformed)


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer, with what it cost."""

    text: str | None
    tool_calls: tuple[ToolCall, ...]
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    seconds: float


@dataclass
class _Lib:
    module: Any
    router: Any


@dataclass
class LlmClient:
    """The main model plus fallbacks behind one ``complete`` call."""

    models: Sequence[ModelSpec]
    timeout: float = 20.0
    _lib: _Lib | None = field(default=None, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("LlmClient needs at least one model")
        if self.timeout <= 0:
            raise ValueError("the model timeout must be positive")

    @property
    def main_model(self) -> str:
        return self.models[0].model

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> Completion:
        """One chat completion from the first model that answers; :class:`LlmUnavailable` else."""
        lib = await self._load()
        kwargs: dict[str, Any] = {"model": self._group(0), "messages": messages}
        if tools:
            kwargs["tools"] = tools
        started = time.perf_counter()
        try:
            response = await lib.router.acompletion(**kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("every model failed: %s: %s", type(exc).__name__, str(exc)[:300])
            raise LlmUnavailable(type(exc).__name__) from exc
        seconds = time.perf_counter() - started
        return _completion(lib.module, response, seconds)

    def _group(self, index: int) -> str:
        return f"threadline-{index}"

    async def _load(self) -> _Lib:
        if self._lib is not None:
            return self._lib
        async with self._lock:
            if self._lib is None:
                self._lib = await asyncio.to_thread(self._import)
        return self._lib

    def _import(self) -> _Lib:
        for key, value in OFFLINE_ENV.items():
            os.environ.setdefault(key, value)
        litellm: Any = importlib.import_module("litellm")
        litellm.suppress_debug_info = True
        model_list = []
        for i, spec in enumerate(self.models):
            params: dict[str, Any] = {"model": spec.model}
            if spec.api_base:
                params["api_base"] = spec.api_base
            if spec.api_key:
                params["api_key"] = spec.api_key
            model_list.append({"model_name": self._group(i), "litellm_params": params})
        fallbacks = [self._group(i) for i in range(1, len(self.models))]
        router = litellm.Router(
            model_list=model_list,
            fallbacks=[{self._group(0): fallbacks}] if fallbacks else [],
            num_retries=0,
            timeout=self.timeout,
            # A model that failed is tried again on the next message, not benched for a minute.
            disable_cooldowns=True,
        )
        return _Lib(litellm, router)


def _completion(litellm: Any, response: Any, seconds: float) -> Completion:
    message = response.choices[0].message
    calls = tuple(
        ToolCall(
            id=str(call.id),
            name=str(call.function.name),
            arguments=str(call.function.arguments or ""),
        )
        for call in (getattr(message, "tool_calls", None) or ())
    )
    usage = getattr(response, "usage", None)
    model = str(getattr(response, "model", "") or "")
    return Completion(
        text=message.content if isinstance(message.content, str) else None,
        tool_calls=calls,
        model=model,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost=_cost(litellm, response, model),
        seconds=seconds,
    )


def _cost(litellm: Any, response: Any, model: str) -> float | None:
    """The price of one answer when litellm's price map knows the model; None otherwise."""
    try:
        litellm.get_model_info(model)
    except Exception:
        return None
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:
        return None
