"""Understanding from the model, summaries, prompt files and wiring from settings."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.llm import LlmClient, LlmUnderstander, ModelSpec, PromptError, Prompts
from bot.llm.summaries import summarize_conversation
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_llm import llm_parts, model_specs
from memory.conversations import summarize_extractive
from tests.bot.fake_llm import FakeLlm, error, fake_llm_server, text

MAIN = "main-model"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLlm]:
    async with fake_llm_server() as server:
        yield server


def client(fake: FakeLlm) -> LlmClient:
    return LlmClient([ModelSpec(f"openai/{MAIN}", fake.api_base, "k")], timeout=2.0)


def understander_for(fake: FakeLlm, offline: OfflineUnderstander) -> LlmUnderstander:
    intents = [(s.name, s.description) for s in offline.inner.catalog.intents]  # type: ignore[attr-defined]
    return LlmUnderstander(client(fake), offline=offline, intents=intents, prompts=Prompts.load())


def answer(**fields: object) -> str:
    base: dict[str, object] = {"intent": "order_status", "confidence": 0.8, "sentiment": -0.2}
    return json.dumps({**base, **fields})


async def test_the_models_understanding_is_used_with_exact_entities(
    fake: FakeLlm, understander: OfflineUnderstander
) -> None:
    fake.script(MAIN, text("Sure! " + answer(needs_person=True, order_numbers=["W2611340"])))
    message = "Where is W2611340? I'm ada@example.com, call +31 6 1234 5678"
    signals = await understander_for(fake, understander).understand(message, "telegram")

    assert (signals.source, signals.intent, signals.intent_confidence) == (
        "llm",
        "order_status",
        0.8,
    )
    assert signals.needs_person and signals.sentiment == -0.2
    assert signals.entities["order_number"] == ("W2611340",)
    assert signals.entities["email"] == ("ada@example.com",)  # from the exact extractor
    sent = fake.requests[0]["messages"]
    assert "ada@example.com" not in sent[1]["content"] and "1234 5678" not in sent[1]["content"]
    assert "- human_agent:" in sent[0]["content"]  # the intents offered come from the file


@pytest.mark.parametrize(
    "model_output",
    [
        "I think they want their order",
        answer(intent="launch_rockets"),
        answer(confidence=7),
        '{"intent": "order_status"',
    ],
    ids=["prose", "unknown-intent", "out-of-range", "broken-json"],
)
async def test_invalid_output_falls_back_to_offline_understanding(
    fake: FakeLlm, understander: OfflineUnderstander, model_output: str
) -> None:
    fake.script(MAIN, text(model_output))
    message = "where is my order TL-10215?"
    signals = await understander_for(fake, understander).understand(message, "webchat")
    assert signals == await understander.understand(message, "webchat")
    assert signals.source == "offline"


async def test_a_model_that_is_down_falls_back_to_offline_understanding(
    fake: FakeLlm, understander: OfflineUnderstander
) -> None:
    fake.script(MAIN, error(500))
    signals = await understander_for(fake, understander).understand("thanks a lot!", "webchat")
    assert signals.source == "offline" and signals.intent == "thanks"


TURNS = [
    ("customer", "Where is TL-10215? Also what about TL-10001, bob@example.org"),
    ("bot", "TL-10215 shipped with UPS."),
    ("customer", "thanks"),
]


async def test_summaries_come_from_the_model_and_hide_other_peoples_details(
    fake: FakeLlm,
) -> None:
    fake.script(MAIN, text("Customer asked where TL-10215 is;\n it had shipped. Nothing open."))
    summary = await summarize_conversation(
        TURNS, client=client(fake), prompts=Prompts.load(), order_ids=["TL-10215"]
    )
    assert summary == "Customer asked where TL-10215 is; it had shipped. Nothing open."
    chat = fake.requests[0]["messages"][1]["content"]
    assert "Customer: Where is TL-10215?" in chat
    assert "TL-10001" not in chat and "bob@example.org" not in chat


async def test_summaries_are_extractive_without_a_model_or_when_it_fails(fake: FakeLlm) -> None:
    prompts = Prompts.load()
    assert await summarize_conversation(TURNS, client=None, prompts=prompts) == (
        summarize_extractive(TURNS)
    )
    fake.script(MAIN, error(500))
    assert await summarize_conversation(TURNS, client=client(fake), prompts=prompts) == (
        summarize_extractive(TURNS)
    )


def test_prompt_files_can_be_overridden_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "system.md").write_text("Be brief. Facts:\n$facts\n", encoding="utf-8")
    prompts = Prompts.load(tmp_path)
    assert prompts.render("system", facts="- verified") == "Be brief. Facts:\n- verified"
    assert prompts.summarize == Prompts.load().summarize
    (tmp_path / "summarize.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"summarize\.md: the prompt is empty"):
        Prompts.load(tmp_path)
    with pytest.raises(PromptError, match="not a folder"):
        Prompts.load(tmp_path / "missing")


def test_no_model_means_no_llm_parts_and_fallbacks_follow_the_main_model() -> None:
    assert model_specs(Settings()) == []
    settings = Settings(
        THREADLINE_MODEL="ollama_chat/llama3.1",
        THREADLINE_LLM_API_BASE="http://127.0.0.1:11434",
        THREADLINE_LLM_FALLBACKS="ollama_chat/qwen2.5, openai/gpt-4o-mini",
    )
    specs = model_specs(settings)
    assert [s.model for s in specs] == [
        "ollama_chat/llama3.1",
        "ollama_chat/qwen2.5",
        "openai/gpt-4o-mini",
    ]
    # The local server's address is not sent to another provider's model.
    assert [s.api_base for s in specs] == ["http://127.0.0.1:11434"] * 2 + [None]


def test_llm_parts_is_none_without_a_model(understander: OfflineUnderstander) -> None:
    parts = llm_parts(
        Settings(),
        knowledge=None,  # type: ignore[arg-type]
        orders=None,  # type: ignore[arg-type]
        offline_responder=None,  # type: ignore[arg-type]
        offline_understander=understander,
        clock=None,  # type: ignore[arg-type]
    )
    assert parts is None
