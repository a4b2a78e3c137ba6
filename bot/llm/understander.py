"""Understanding from a model: intent, sentiment and "needs a person" as validated JSON.

The model sees the message with emails, phones and card numbers masked (it needs none of them
to tell what the customer wants). Entities come from the offline extractor, which is exact;
an order number the model adds is kept only when it is written in the message. Any failure,
an unknown intent or output that does not validate gives the offline understanding instead.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.llm.client import LlmClient, LlmUnavailable
from bot.llm.prompts import Prompts
from bot.llm.redaction import Redactor
from bot.ports import Understander
from policies.model import Signals

log = logging.getLogger(__name__)

MAX_CHARS = 2000
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class ModelSignals(BaseModel):
    """The JSON the model must return."""

    model_config = ConfigDict(extra="ignore")

    intent: str
    confidence: float = Field(ge=0.0, le=1.0)
    sentiment: float = Field(default=0.0, ge=-1.0, le=1.0)
    needs_person: bool = False
    order_numbers: list[str] = Field(default_factory=list, max_length=10)


class LlmUnderstander:
    """The :class:`~bot.ports.Understander` backed by a model, falling back to ``offline``."""

    def __init__(
        self,
        client: LlmClient,
        *,
        offline: Understander,
        intents: Sequence[tuple[str, str]],
        prompts: Prompts,
    ) -> None:
        if not intents:
            raise ValueError("LlmUnderstander needs the list of intents")
        self._client = client
        self._offline = offline
        self._names = frozenset(name for name, _ in intents)
        listing = "\n".join(f"- {name}: {description}" for name, description in intents)
        self._system = prompts.render("understand", intents=listing)
        # Masks every email, phone and card: none of them says what the customer wants.
        self._mask = Redactor()

    async def understand(self, text: str, channel: str) -> Signals:
        offline = await self._offline.understand(text, channel)
        if not text.strip():
            return offline
        messages = [
            {"role": "system", "content": self._system},
            {"role": "user", "content": self._mask.redact(text[:MAX_CHARS])},
        ]
        try:
            completion = await self._client.complete(messages)
        except LlmUnavailable:
            return offline
        parsed = self._parse(completion.text or "")
        if parsed is None:
            return offline
        entities = dict(offline.entities)
        orders = list(entities.get("order_number", ()))
        for number in parsed.order_numbers:
            if number and number in text and number not in orders:
                orders.append(number)
        if orders:
            entities["order_number"] = tuple(orders)
        return Signals(
            text=text,
            channel=channel,
            intent=parsed.intent,
            intent_confidence=round(parsed.confidence, 4),
            entities=entities,
            sentiment=parsed.sentiment,
            needs_person=parsed.needs_person,
            source="llm",
        )

    async def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        """One by one: each message is its own request to the model."""
        return [await self.understand(text, channel) for text, channel in messages]

    def _parse(self, raw: str) -> ModelSignals | None:
        match = JSON_OBJECT.search(raw)
        if match is None:
            log.warning("the model's understanding was not JSON; using the offline one")
            return None
        try:
            parsed = ModelSignals.model_validate(json.loads(match.group(0)))
        except (json.JSONDecodeError, ValidationError) as exc:
            log.warning("the model's understanding did not validate (%s); using offline", exc)
            return None
        if parsed.intent not in self._names:
            log.warning("the model named an unknown intent %r; using offline", parsed.intent)
            return None
        return parsed
