"""The set-based batch store gives what the single-row repositories give, row for row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from memory.batch import LoopedBatch
from memory.batch_sql import warm_batch_statements
from memory.models import ChannelIdentity, Customer, InboundEvent, Message, OutboxItem
from memory.orders import InMemoryOrderSource
from memory.records import ContextRequest
from memory.unit_of_work import SqlUnitOfWork

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def uow_of(factory: async_sessionmaker[AsyncSession]) -> SqlUnitOfWork:
    return SqlUnitOfWork(factory, InMemoryOrderSource())


async def test_reads_match_the_single_row_repositories(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with uow_of(session_factory) as uow:
        ada = await uow.customers.create(now=T0, email="ada@example.com", external_ref="C1")
        bo = await uow.customers.create(now=T0, email="bo@example.com", external_ref="C2")
        old = await uow.customers.create(now=T0, email="old@example.com", external_ref="C3")
        await uow.identities.add(
            channel="webchat",
            external_user_id="w-ada",
            customer_id=ada.id,
            verified=True,
            verified_via="shop_login",
            display_name=None,
            now=T0,
        )
        await uow.identities.add(
            channel="telegram",
            external_user_id="42",
            customer_id=bo.id,
            verified=False,
            verified_via=None,
            display_name="Bo",
            now=T0,
        )
        first = await uow.conversations.start(ada.id, "webchat", T0)
        later = await uow.conversations.start(ada.id, "telegram", T0 + timedelta(days=1))
        await uow.conversations.start(bo.id, "telegram", T0)
        await uow.commit()
    async with session_factory() as session, session.begin():  # C3 was merged into C2
        merged = await session.get(Customer, old.id)
        assert merged is not None
        merged.merged_into_id = bo.id

    async with uow_of(session_factory) as uow:
        looped = LoopedBatch(uow)
        senders = [("webchat", "w-ada"), ("telegram", "42"), ("webchat", "nobody")]
        assert await uow.batch.identities(senders) == await looped.identities(senders)
        assert set(await uow.batch.identities(senders)) == set(senders[:2])
        refs = ["C1", "C3", "C404"]
        by_ref = await uow.batch.customers_by_ref(refs)
        assert by_ref == await looped.customers_by_ref(refs)
        assert by_ref["C3"].id == bo.id, "a merged login speaks for the customer it went into"
        emails = ["ADA@example.com", "old@example.com", "none@example.com"]
        assert await uow.batch.customers_by_email(emails) == await looped.customers_by_email(emails)
        customers = [ada.id, bo.id, old.id]
        latest = await uow.batch.latest_conversations(customers)
        assert latest == await looped.latest_conversations(customers)
        assert latest[ada.id].id == later.id and old.id not in latest
        ids = [first.id, later.id, 10_000]
        assert await uow.batch.conversations(ids) == await looped.conversations(ids)


async def test_writes_keep_the_rows_order_and_their_fields(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with uow_of(session_factory) as uow:
        customer = await uow.customers.create(now=T0, name="Cy")
        a = await uow.conversations.start(customer.id, "webchat", T0)
        b = await uow.conversations.start(customer.id, "telegram", T0)
        await uow.commit()
    texts = [f"turn {n}" for n in range(7)]
    async with uow_of(session_factory) as uow:
        ids = await uow.batch.add_messages(
            [
                {
                    "conversation_id": (a, b)[n % 2].id,
                    "customer_id": customer.id,
                    "author": "bot",
                    "channel": "webchat",
                    "text": text,
                    "now": T0,
                    "meta": {"n": n},
                }
                for n, text in enumerate(texts)
            ]
        )
        decision_ids = await uow.batch.add_decisions(
            [
                {
                    "conversation_id": a.id,
                    "message_id": message_id,
                    "action": "answer",
                    "rule_id": f"rule-{n}",
                    "reasons": [],
                    "inputs": {"n": n},
                    "outcome": {},
                    "policy_version": "v1",
                    "now": T0,
                }
                for n, message_id in enumerate(ids)
            ]
        )
        await uow.batch.enqueue(
            [
                {
                    "message_id": message_id,
                    "conversation_id": a.id,
                    "channel": "webchat",
                    "external_user_id": "w-cy",
                    "now": T0,
                }
                for message_id in ids[:3]
            ]
        )
        await uow.batch.update_conversations(
            [
                (a.id, {"state": "waiting_staff", "last_message_at": T0 + timedelta(hours=1)}),
                (b.id, {"consecutive_clarify": 2}),
            ]
        )
        await uow.commit()
    async with session_factory() as session:
        stored = {m.id: m for m in (await session.scalars(select(Message))).all()}
        assert [stored[i].text for i in ids] == texts
        assert [stored[i].meta for i in ids] == [{"n": n} for n in range(7)]
        outbox = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
        assert [o.message_id for o in outbox] == ids[:3]
        assert {o.state for o in outbox} == {"pending"}
    async with uow_of(session_factory) as uow:
        assert len(set(decision_ids)) == 7
        now_a = await uow.conversations.get(a.id)
        now_b = await uow.conversations.get(b.id)
        assert now_a is not None and now_b is not None
        assert (now_a.state, now_a.last_message_at) == ("waiting_staff", T0 + timedelta(hours=1))
        assert (now_b.state, now_b.consecutive_clarify) == ("bot", 2)


async def test_events_are_marked_done_and_identities_touched(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        session.add_all(
            InboundEvent(
                channel="webchat",
                external_event_id=f"e{n}",
                external_user_id="w",
                text="hi",
                payload={},
                state="pending",
                attempts=1,
                received_at=T0,
            )
            for n in range(3)
        )
    async with session_factory() as session:
        event_ids = list((await session.scalars(select(InboundEvent.id))).all())
    async with uow_of(session_factory) as uow:
        customer = await uow.customers.create(now=T0)
        seen = await uow.identities.add(
            channel="webchat",
            external_user_id="w",
            customer_id=customer.id,
            verified=False,
            verified_via=None,
            display_name=None,
            now=T0,
        )
        await uow.commit()
    async with session_factory() as session, session.begin():
        row = await session.get(ChannelIdentity, seen.id)
        assert row is not None
        row.unreachable = True
    later = T0 + timedelta(minutes=5)
    async with uow_of(session_factory) as uow:
        await uow.batch.mark_done(event_ids[:2], later)
        await uow.batch.touch_identities([seen.id], later)
        await uow.commit()
    async with session_factory() as session:
        states = dict((await session.execute(select(InboundEvent.id, InboundEvent.state))).all())
        identity = await session.get(ChannelIdentity, seen.id)
    assert [states[i] for i in event_ids] == ["done", "done", "pending"]
    assert identity is not None
    assert (identity.last_seen_at, identity.unreachable) == (later, False)


async def test_warming_compiles_every_batch_size_before_a_batch_needs_it(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with uow_of(session_factory) as uow:
        people = [await uow.customers.create(now=T0) for _ in range(3)]
        chats = [await uow.conversations.start(p.id, "webchat", T0) for p in people]
        await uow.commit()

    async def contexts_of(count: int) -> None:
        async with uow_of(session_factory) as uow:
            await uow.batch.latest_conversations([p.id for p in people[:count]])
            await uow.context.build_many(
                [
                    ContextRequest(c.customer_id, c, "webchat", False, None, T0)
                    for c in chats[:count]
                ]
            )

    await contexts_of(1)  # every statement a context runs is compiled for one customer
    ran = await warm_batch_statements(session_factory, most=40)
    sqlite = engine.dialect.name == "sqlite"
    # Six per-key statements: on SQLite one per batch size 1, 2, 4, …, 64; on
    # PostgreSQL one for any size.
    assert ran == (6 * 7 if sqlite else 6)
    compiled = engine.sync_engine._compiled_cache  # SQLAlchemy's cache of compiled SQL
    assert compiled is not None
    warmed = len(compiled)
    await contexts_of(3)  # a batch of three: nothing left to compile
    assert len(compiled) == warmed
