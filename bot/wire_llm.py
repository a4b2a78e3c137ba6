"""Builds the model-backed responder and understander from settings (None without a model).

``THREADLINE_LLM_API_BASE`` and ``THREADLINE_LLM_API_KEY`` apply to the main model and to every
fallback of the same provider (the part before ``/``); a fallback of another provider uses
that provider's own settings (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY`` …), as litellm reads them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.llm import (
    LlmClient,
    LlmResponder,
    LlmUnderstander,
    ModelSpec,
    Prompts,
    summarize_conversation,
)
from bot.nlu import SHIPPED_INTENTS, IntentCatalog, OfflineUnderstanding, load_intents
from bot.ports import OfflineUnderstander, Responder, Understander
from bot.responder import OfflineResponder
from bot.settings import Settings
from memory.knowledge import RECOMMENDED_THRESHOLD
from memory.knowledge_holder import KnowledgeHolder
from memory.orders import OrderSource


def model_specs(settings: Settings) -> list[ModelSpec]:
    """The main model, then the fallbacks in order (empty when no model is set)."""
    if not settings.model or not settings.model.strip():
        return []
    main = settings.model.strip()
    fallbacks = [m.strip() for m in (settings.llm_fallback_models or "").split(",") if m.strip()]
    provider = _provider(main)
    specs = []
    for name in [main, *fallbacks]:
        same = name == main or _provider(name) == provider
        specs.append(
            ModelSpec(
                model=name,
                api_base=settings.llm_api_base if same else None,
                api_key=settings.llm_api_key if same else None,
            )
        )
    return specs


def llm_client(settings: Settings) -> LlmClient | None:
    specs = model_specs(settings)
    return LlmClient(specs, timeout=settings.llm_timeout) if specs else None


def llm_parts(
    settings: Settings,
    *,
    knowledge: KnowledgeHolder,
    orders: OrderSource,
    offline_responder: OfflineResponder,
    offline_understander: Understander,
    clock: Callable[[], datetime],
) -> tuple[Responder, Understander] | None:
    """The LLM responder and understander, or None when ``THREADLINE_MODEL`` is not set.

    Nothing here imports litellm: that happens on the first model call.
    """
    client = llm_client(settings)
    if client is None:
        return None
    prompts = Prompts.load(settings.prompts_path)
    responder = LlmResponder(
        client,
        offline=offline_responder,
        knowledge=knowledge,
        orders=orders,
        prompts=prompts,
        clock=clock,
        knowledge_threshold=RECOMMENDED_THRESHOLD,
        shop_contacts=lambda: [entry.answer for entry in knowledge.entries],
    )
    catalog = _catalog(settings, offline_understander)
    understander = LlmUnderstander(
        client,
        offline=offline_understander,
        intents=[(spec.name, spec.description) for spec in catalog.intents],
        prompts=prompts,
    )
    return responder, understander


def _catalog(settings: Settings, offline: Understander) -> IntentCatalog:
    if isinstance(offline, OfflineUnderstander) and isinstance(offline.inner, OfflineUnderstanding):
        return offline.inner.catalog
    return load_intents(settings.intents_path or SHIPPED_INTENTS)


def _provider(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def llm_summarizer(
    settings: Settings,
) -> Callable[[list[tuple[str, str]]], Awaitable[str]] | None:
    """Summaries of closed conversations by the model; None without one (extractive stays)."""
    client = llm_client(settings)
    if client is None:
        return None
    prompts = Prompts.load(settings.prompts_path)

    async def summarize(turns: list[tuple[str, str]]) -> str:
        return await summarize_conversation(turns, client=client, prompts=prompts)

    return summarize
