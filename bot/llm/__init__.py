"""Answers and understanding from any model through litellm, with safety outside the prompt."""

from bot.llm.client import LlmClient, LlmUnavailable, ModelSpec
from bot.llm.prompts import PromptError, Prompts
from bot.llm.responder import LlmResponder
from bot.llm.summaries import summarize_conversation
from bot.llm.understander import LlmUnderstander

__all__ = [
    "LlmClient",
    "LlmResponder",
    "LlmUnavailable",
    "LlmUnderstander",
    "ModelSpec",
    "PromptError",
    "Prompts",
    "summarize_conversation",
]
