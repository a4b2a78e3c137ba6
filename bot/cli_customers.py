"""`threadline customers …`: see a customer across channels, merge and unmerge.

Exit codes: 0 done, 1 refused (the reason is printed), 2 usage.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NoReturn, TypeVar

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from memory.identity_links import (
    MergeRefused,
    MergeReport,
    admin_actor,
    merge_customers,
    unmerge_customers,
)
from memory.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    CustomerMerge,
    IdentityEvent,
    Message,
    Order,
)

T = TypeVar("T")
AUDIT_LIMIT = 50


class NotFound(Exception):
    pass


def _default_admin() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "admin"


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on the configured database."""
    from bot.cli import load_settings, require_schema
    from memory.db import create_null_pool_engine, make_session_factory

    settings: Settings = load_settings()

    async def go() -> T:
        await require_schema(settings)
        engine = create_null_pool_engine(settings.database_url)
        try:
            async with make_session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


async def _customer_id(session: AsyncSession, id_or_email: str) -> int:
    if id_or_email.isdigit():
        found = await session.scalar(select(Customer.id).where(Customer.id == int(id_or_email)))
    elif "@" in id_or_email:
        found = await session.scalar(
            select(Customer.id).where(Customer.email == id_or_email.strip().lower())
        )
    else:
        found = await session.scalar(
            select(Customer.id).where(Customer.external_ref == id_or_email)
        )
    if found is None:
        raise NotFound(f"no customer {id_or_email!r} (give an id, an email or a shop id)")
    return found


def _refuse(reason: str) -> NoReturn:
    click.echo(f"refused: {reason}", err=True)
    sys.exit(1)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def _moved(moved: dict[str, int]) -> str:
    names = {"identity": "identities", "conversation": "conversations"}
    return ", ".join(
        f"{moved.get(kind, 0)} {names.get(kind, kind + 's')}"
        for kind in ("identity", "conversation", "message", "order")
    )


@click.group()
def customers() -> None:
    """See customers across channels; merge and unmerge them (audited)."""


@customers.command()
@click.argument("id_or_email")
def show(id_or_email: str) -> None:
    """Profile, identities, conversations, merges and audit trail of a customer."""

    async def work(session: AsyncSession) -> list[str]:
        return await _profile_lines(session, await _customer_id(session, id_or_email))

    try:
        lines = _run(work)
    except NotFound as exc:
        _refuse(str(exc))
    for line in lines:
        click.echo(line)


async def _count(
    session: AsyncSession, model: type[Conversation | Message | Order], cid: int
) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(model).where(model.customer_id == cid)
        )
        or 0
    )


async def _profile_lines(session: AsyncSession, cid: int) -> list[str]:
    customer = await session.get(Customer, cid)
    assert customer is not None
    lines = [
        f"customer {cid}: {customer.name or '(no name)'}",
        f"  email: {customer.email or '-'}   shop id: {customer.external_ref or '-'}"
        f"   since {_when(customer.created_at)}",
    ]
    if customer.merged_into_id is not None:
        lines.append(f"  merged into customer {customer.merged_into_id}")
    identities = (
        await session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.customer_id == cid)
            .order_by(ChannelIdentity.id)
        )
    ).all()
    lines.append(f"identities ({len(identities)}):")
    for i in identities:
        how = f"verified via {i.verified_via}" if i.verified else "not verified"
        lines.append(
            f"  #{i.id} {i.channel} {i.external_user_id}: {how}; last seen {_when(i.last_seen_at)}"
        )
    counts = [await _count(session, m, cid) for m in (Conversation, Message, Order)]
    lines.append(f"conversations: {counts[0]}   messages: {counts[1]}   orders: {counts[2]}")
    merges = (
        await session.scalars(
            select(CustomerMerge)
            .where((CustomerMerge.kept_id == cid) | (CustomerMerge.merged_id == cid))
            .order_by(CustomerMerge.id)
        )
    ).all()
    if merges:
        lines.append("merges:")
    for m in merges:
        state = f"undone {_when(m.undone_at)} by {m.undone_by}" if m.undone_at else "in effect"
        lines.append(
            f"  merge {m.id}: customer {m.merged_id} into {m.kept_id} by {m.actor} "
            f"({m.method}) {_when(m.created_at)}; {state}"
        )
    events = (
        await session.scalars(
            select(IdentityEvent)
            .where((IdentityEvent.from_customer_id == cid) | (IdentityEvent.to_customer_id == cid))
            .order_by(IdentityEvent.id.desc())
            .limit(AUDIT_LIMIT)
        )
    ).all()
    lines.append(f"audit (latest {AUDIT_LIMIT}, newest first):" if events else "audit: none")
    for e in events:
        who = f" identity #{e.identity_id}" if e.identity_id else ""
        merge = f" (merge {e.merge_id})" if e.merge_id else ""
        source = e.from_customer_id if e.from_customer_id is not None else "new"
        lines.append(
            f"  {_when(e.created_at)} {e.action} by {e.actor} via {e.method}:{who} "
            f"customer {source} -> {e.to_customer_id}{merge}"
        )
    return lines


@customers.command()
@click.argument("keep")
@click.argument("other")
@click.option("--by", "by", default=None, help="Your name for the audit (default: login).")
def merge(keep: str, other: str, by: str | None) -> None:
    """Merge customer OTHER into KEEP (ids, emails or shop ids); undo with `unmerge`."""
    actor = admin_actor(by or _default_admin())

    async def work(session: AsyncSession) -> MergeReport:
        keep_id = await _customer_id(session, keep)
        other_id = await _customer_id(session, other)
        return await merge_customers(session, keep_id, other_id, actor=actor, method="admin")

    try:
        report = _run(work)
    except (NotFound, MergeRefused) as exc:
        _refuse(str(exc))
    click.echo(
        f"merged customer {report.merged_id} into {report.kept_id} (merge {report.merge_id}): "
        f"moved {_moved(report.moved)}"
    )
    click.echo(f"undo with: threadline customers unmerge {report.merge_id}")


@customers.command()
@click.argument("merge_id", type=int)
@click.option("--by", "by", default=None, help="Your name for the audit (default: login).")
def unmerge(merge_id: int, by: str | None) -> None:
    """Undo merge MERGE_ID: both customers get back exactly what they had."""
    actor = admin_actor(by or _default_admin())

    async def work(session: AsyncSession) -> MergeReport:
        return await unmerge_customers(session, merge_id, actor=actor)

    try:
        report = _run(work)
    except MergeRefused as exc:
        _refuse(str(exc))
    click.echo(
        f"unmerged customer {report.merged_id} from {report.kept_id} (merge {report.merge_id}): "
        f"gave back {_moved(report.moved)}"
    )
