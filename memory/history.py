"""Read-side queries for channels: a customer's recent turns, demo customers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.models import ChannelIdentity, Conversation, Customer, Message, Order
from memory.views import TurnView


async def recent_turns(
    factory: async_sessionmaker[AsyncSession], channel: str, external_user_id: str, limit: int
) -> list[TurnView]:
    """The customer's current conversation, across every channel, oldest first."""
    async with factory() as session:
        customer_id = await session.scalar(
            select(ChannelIdentity.customer_id).where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_user_id == external_user_id,
            )
        )
        if customer_id is None:
            return []
        conversation_id = await session.scalar(
            select(Conversation.id)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.started_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if conversation_id is None:
            return []
        rows = await session.execute(
            select(Message.id, Message.author, Message.channel, Message.text, Message.created_at)
            .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        )
        return [
            TurnView(message_id=i, author=a, channel=c, text=t, created_at=at)
            for i, a, c, t, at in reversed(rows.all())
        ]


async def demo_customers(
    factory: async_sessionmaker[AsyncSession], limit: int = 12
) -> list[dict[str, str]]:
    """Customers with a shop id and orders, with a note on their latest order."""
    async with factory() as session:
        customers = (
            await session.scalars(
                select(Customer)
                .where(Customer.external_ref.is_not(None))
                .order_by(Customer.external_ref)
                .limit(limit)
            )
        ).all()
        result: list[dict[str, str]] = []
        for customer in customers:
            latest = await session.scalar(
                select(Order)
                .where(Order.customer_id == customer.id)
                .order_by(Order.created_at.desc())
                .limit(1)
            )
            note = f"latest order {latest.id}: {latest.status.replace('_', ' ')}" if latest else ""
            result.append(
                {
                    "ref": customer.external_ref or "",
                    "name": customer.name or customer.email or "",
                    "email": customer.email or "",
                    "note": note,
                }
            )
        return result
