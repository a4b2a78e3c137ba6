"""Rows for store tests: a conversation, and bot replies waiting in its outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from memory.models import Conversation, Customer, Message, OutboxItem

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def conversation(session: AsyncSession, channel: str = "webchat") -> Conversation:
    """A new customer's open conversation with the bot."""
    customer = Customer(tags=[], created_at=T0)
    session.add(customer)
    await session.flush()
    row = Conversation(
        customer_id=customer.id,
        state="bot",
        channel=channel,
        started_at=T0,
        last_message_at=T0,
    )
    session.add(row)
    await session.flush()
    return row


async def queue_bot_reply(
    session: AsyncSession, conv: Conversation, text: str, *, user: str = "u"
) -> None:
    """A bot message in ``conv`` and its pending outbox item."""
    message = Message(
        conversation_id=conv.id,
        customer_id=conv.customer_id,
        author="bot",
        channel=conv.channel,
        text=text,
        attachments=[],
        meta={},
        internal=False,
        created_at=T0,
    )
    session.add(message)
    await session.flush()
    session.add(
        OutboxItem(
            message_id=message.id,
            conversation_id=conv.id,
            channel=conv.channel,
            external_user_id=user,
            state="pending",
            attempts=0,
            next_attempt_at=T0,
            created_at=T0,
        )
    )
