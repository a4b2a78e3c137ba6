"""Merging and unmerging customers, and the identity audit, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.identity import Claims, prove_by_order, resolve_identity
from memory.identity_links import MergeRefused, merge_customers, unmerge_customers
from memory.linking import LinkResult, hash_code, normalize_code
from memory.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    CustomerMerge,
    IdentityEvent,
    LinkCode,
    Message,
    Order,
)
from memory.orders import SqlOrderSource
from memory.unit_of_work import SqlUnitOfWork

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
Factory = async_sessionmaker[AsyncSession]


def uow(factory: Factory) -> SqlUnitOfWork:
    return SqlUnitOfWork(factory, SqlOrderSource(factory))


async def customer_with_story(
    factory: Factory, *, email: str, channel: str, user: str, turns: int, order: str | None
) -> int:
    """A customer with a shop email, one identity, one conversation of ``turns`` messages."""
    async with uow(factory) as work:
        identity = await resolve_identity(work, channel, user, Claims(email=email), NOW)
        conversation = await work.conversations.start(identity.customer_id, channel, NOW)
        for n in range(turns):
            await work.messages.add(
                conversation_id=conversation.id,
                customer_id=identity.customer_id,
                author="customer" if n % 2 == 0 else "bot",
                channel=channel,
                text=f"{user} turn {n}",
                now=NOW + timedelta(seconds=n),
            )
        await work.commit()
    if order is not None:
        async with factory() as session, session.begin():
            session.add(
                Order(
                    id=order,
                    customer_id=identity.customer_id,
                    email=email,
                    status="shipped",
                    currency="EUR",
                    total=Decimal("42.00"),
                    items=[],
                    created_at=NOW,
                )
            )
    return identity.customer_id


async def snapshot(factory: Factory) -> dict[str, dict[int | str, int | None]]:
    """Who owns every identity, conversation, message and order."""
    async with factory() as session:
        result: dict[str, dict[int | str, int | None]] = {}
        for name, model in (
            ("identity", ChannelIdentity),
            ("conversation", Conversation),
            ("message", Message),
            ("order", Order),
        ):
            rows = await session.execute(select(model.id, model.customer_id))
            result[name] = {row_id: owner for row_id, owner in rows.all()}
        threads = await session.execute(select(Message.id, Message.conversation_id))
        result["thread"] = {row_id: conversation for row_id, conversation in threads.all()}
        merged = await session.execute(select(Customer.id, Customer.merged_into_id))
        result["merged_into"] = {cid: into for cid, into in merged.all()}
        return result


async def counts_of(factory: Factory, customer_id: int) -> tuple[int, int, int, int]:
    async with factory() as session:
        values = []
        for model in (ChannelIdentity, Conversation, Message, Order):
            values.append(
                await session.scalar(
                    select(func.count()).select_from(model).where(model.customer_id == customer_id)
                )
            )
        return tuple(values)  # type: ignore[return-value]


@pytest.fixture
async def two(session_factory: Factory) -> tuple[int, int]:
    ada = await customer_with_story(
        session_factory,
        email="ada@example.com",
        channel="webchat",
        user="w-ada",
        turns=4,
        order="A-1",
    )
    bea = await customer_with_story(
        session_factory,
        email="bea@example.com",
        channel="telegram",
        user="t-bea",
        turns=3,
        order="B-1",
    )
    return ada, bea


async def test_merge_moves_everything_and_unmerge_restores_both_histories_exactly(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    before = await snapshot(session_factory)
    assert await counts_of(session_factory, ada) == (1, 1, 4, 1)
    assert await counts_of(session_factory, bea) == (1, 1, 3, 1)

    async with session_factory() as session, session.begin():
        report = await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
    assert report.moved == {"identity": 1, "conversation": 1, "message": 3, "order": 1}
    assert await counts_of(session_factory, ada) == (2, 2, 7, 2)
    assert await counts_of(session_factory, bea) == (0, 0, 0, 0)

    async with session_factory() as session, session.begin():
        undone = await unmerge_customers(session, report.merge_id, actor="admin:sam")
    assert undone.moved == report.moved
    assert await snapshot(session_factory) == before


async def test_unmerge_leaves_what_happened_after_the_merge_with_the_kept_customer(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    async with session_factory() as session, session.begin():
        report = await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
    async with uow(session_factory) as work:  # Bea's Telegram chat writes again, as Ada
        identity = await work.identities.get("telegram", "t-bea")
        assert identity is not None and identity.customer_id == ada
        conversation = await work.conversations.start(ada, "telegram", NOW + timedelta(days=9))
        await work.messages.add(
            conversation_id=conversation.id,
            customer_id=ada,
            author="customer",
            channel="telegram",
            text="new since the merge",
            now=NOW + timedelta(days=9),
        )
        await work.commit()
    async with session_factory() as session, session.begin():
        await unmerge_customers(session, report.merge_id, actor="admin:sam")
    assert await counts_of(session_factory, bea) == (1, 1, 3, 1)
    assert await counts_of(session_factory, ada) == (1, 2, 5, 1)


async def test_merges_are_refused_when_they_cannot_be_undone_cleanly(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    async with session_factory() as session, session.begin():
        with pytest.raises(MergeRefused, match="into itself"):
            await merge_customers(session, ada, ada, actor="admin:sam", method="admin")
        with pytest.raises(MergeRefused, match="does not exist"):
            await merge_customers(session, ada, 99999, actor="admin:sam", method="admin")
        report = await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
    async with session_factory() as session, session.begin():
        with pytest.raises(MergeRefused, match=f"customer {bea} is already merged into"):
            await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
        with pytest.raises(MergeRefused, match=f"customer {bea} is already merged"):
            await merge_customers(session, bea, ada, actor="admin:sam", method="admin")
    async with session_factory() as session, session.begin():
        await unmerge_customers(session, report.merge_id, actor="admin:kim")
    async with session_factory() as session, session.begin():
        with pytest.raises(MergeRefused, match="already undone by admin:kim"):
            await unmerge_customers(session, report.merge_id, actor="admin:kim")


async def test_merge_and_unmerge_are_audited(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    async with session_factory() as session, session.begin():
        report = await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
        await unmerge_customers(session, report.merge_id, actor="admin:kim")
    async with session_factory() as session:
        events = (
            await session.scalars(
                select(IdentityEvent)
                .where(IdentityEvent.merge_id == report.merge_id)
                .order_by(IdentityEvent.id)
            )
        ).all()
        bea_identity = await session.scalar(
            select(ChannelIdentity.id).where(ChannelIdentity.external_user_id == "t-bea")
        )
        merge = await session.get(CustomerMerge, report.merge_id)
    assert [
        (e.action, e.actor, e.identity_id, e.from_customer_id, e.to_customer_id) for e in events
    ] == [
        ("merge", "admin:sam", None, bea, ada),
        ("link", "admin:sam", bea_identity, bea, ada),
        ("unmerge", "admin:kim", None, ada, bea),
        ("unlink", "admin:kim", bea_identity, ada, bea),
    ]
    assert merge is not None and merge.undone_by == "admin:kim"


async def test_proof_by_order_is_audited_and_the_anonymous_story_can_be_unmerged(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, _ = two
    async with uow(session_factory) as work:
        anon = await resolve_identity(work, "telegram", "t-anon", Claims(), NOW)
        conversation = await work.conversations.start(anon.customer_id, "telegram", NOW)
        await work.messages.add(
            conversation_id=conversation.id,
            customer_id=anon.customer_id,
            author="customer",
            channel="telegram",
            text="where is A-1?",
            now=NOW,
        )
        proven = await prove_by_order(
            work,
            anon,
            order_customer_id=ada,
            order_email="ada@example.com",
            given_email="ADA@example.com",
        )
        await work.commit()
    assert proven.customer_id == ada
    async with session_factory() as session:
        events = (await session.scalars(select(IdentityEvent).order_by(IdentityEvent.id))).all()
        merge = await session.scalar(select(CustomerMerge).where(CustomerMerge.kept_id == ada))
    proofs = [e for e in events if e.method == "order_email"]
    assert [(e.action, e.identity_id, e.from_customer_id, e.to_customer_id) for e in proofs] == [
        ("link", anon.id, anon.customer_id, ada),
        ("merge", None, anon.customer_id, ada),
    ]
    assert merge is not None and (merge.merged_id, merge.actor) == (anon.customer_id, "customer")
    assert await counts_of(session_factory, anon.customer_id) == (0, 0, 0, 0)
    async with session_factory() as session, session.begin():
        await unmerge_customers(session, merge.id, actor="admin:sam")
    assert await counts_of(session_factory, anon.customer_id) == (0, 1, 1, 0)


async def test_a_merged_customers_login_speaks_for_the_kept_customer(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    async with session_factory() as session, session.begin():
        await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
    async with uow(session_factory) as work:
        identity = await resolve_identity(
            work, "slack", "U-bea", Claims(email="bea@example.com"), NOW
        )
        await work.commit()
    assert identity.customer_id == ada


def test_codes_are_normalised_and_hashed() -> None:
    assert normalize_code(" k7qm-p2xd ") == "K7QMP2XD"
    assert normalize_code("K7QMP2X0") is None, "0 is not in the alphabet"
    assert normalize_code("K7QMP2X") is None
    assert hash_code("K7QMP2XD") != hash_code("K7QMP2XE")
    assert len(hash_code("K7QMP2XD")) == 64


async def test_redeeming_in_the_store_follows_a_later_merge(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    async with uow(session_factory) as work:
        asker = await work.identities.get("telegram", "t-bea")
        assert asker is not None
        issued = await work.identities.issue_link_code(asker, channel="telegram", now=NOW)
        await work.commit()
    async with session_factory() as session, session.begin():
        await merge_customers(session, ada, bea, actor="admin:sam", method="admin")
    async with uow(session_factory) as work:
        newcomer = await resolve_identity(work, "slack", "U-new", Claims(), NOW)
        redemption = await work.identities.redeem_link_code(
            issued.code, newcomer, now=NOW + timedelta(minutes=1)
        )
        await work.commit()
    assert (redemption.result, redemption.customer_id) == (LinkResult.LINKED, ada)
    async with session_factory() as session:
        code = await session.scalar(select(LinkCode))
        assert code is not None and code.used_by_identity_id == newcomer.id


async def test_a_folded_merge_joins_one_thread_and_unmerges_exactly(
    session_factory: Factory, two: tuple[int, int]
) -> None:
    ada, bea = two
    before = await snapshot(session_factory)
    async with session_factory() as session:
        ada_conversation = await session.scalar(
            select(Conversation.id).where(Conversation.customer_id == ada)
        )
    assert ada_conversation is not None
    async with session_factory() as session, session.begin():
        report = await merge_customers(
            session,
            ada,
            bea,
            actor="customer",
            method="link_code",
            into_conversation=ada_conversation,
        )
    assert report.moved == {"conversation": 0, "message": 3, "identity": 1, "order": 1}
    async with session_factory() as session:
        in_thread = await session.scalar(
            select(func.count()).where(Message.conversation_id == ada_conversation)
        )
    assert in_thread == 7
    async with session_factory() as session, session.begin():
        await unmerge_customers(session, report.merge_id, actor="admin:sam")
    assert await snapshot(session_factory) == before
