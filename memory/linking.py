"""One-time link codes: "continue on another channel" as the same customer.

A customer asks for a code on one channel (``/link``, or the widget's
"Continue on Telegram"); sending it on another channel (``/link CODE``, or
Telegram's ``/start CODE`` from a deep link) links that channel's identity to
the customer who asked. Codes are 8 characters from an alphabet without
look-alikes (no 0/O, 1/I/L), expire after 15 minutes, work once, and only
their SHA-256 is stored. An identity that already belongs to a customer with
an email, a shop id or other identities is never merged by a code: the attempt
is refused, recorded, and left to staff (``threadline customers merge``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memory.identity_links import (
    CUSTOMER_ACTOR,
    current_customer,
    has_story,
    is_anonymous,
    merge_customers,
    record_identity_event,
)
from memory.models import ChannelIdentity, Conversation, LinkCode
from memory.records import IdentityRecord

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=15)
LINK_METHOD = "link_code"


class LinkResult(StrEnum):
    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    customer_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    result: LinkResult
    customer_id: int  # whom the sending identity speaks for after the attempt
    verified: bool = False  # whether it is verified after a link


@runtime_checkable
class LinkCodes(Protocol):
    """What the link commands need from the store, inside the message's transaction."""

    async def issue_link_code(
        self, identity: IdentityRecord, *, channel: str, now: datetime
    ) -> IssuedCode: ...
    async def redeem_link_code(
        self,
        raw_code: str,
        identity: IdentityRecord,
        *,
        now: datetime,
        continuity_window: timedelta | None = None,
    ) -> Redemption: ...


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """Upper-case, without spaces or dashes; None when it cannot be a code at all."""
    code = "".join(raw.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue_code(
    session: AsyncSession, identity: IdentityRecord, *, channel: str, now: datetime
) -> IssuedCode:
    """A fresh code bound to the customer ``identity`` speaks for."""
    customer_id = await current_customer(session, identity.customer_id)
    while True:
        code = new_code()
        taken = await session.scalar(
            select(LinkCode.id).where(LinkCode.code_hash == hash_code(code))
        )
        if taken is None:
            break
    expires_at = now + CODE_TTL
    session.add(
        LinkCode(
            code_hash=hash_code(code),
            customer_id=customer_id,
            issued_to_identity_id=identity.id,
            issued_on=channel,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedCode(code=code, customer_id=customer_id, expires_at=expires_at)


async def redeem_code(
    session: AsyncSession,
    raw_code: str,
    identity: IdentityRecord,
    *,
    now: datetime,
    continuity_window: timedelta | None = None,
) -> Redemption:
    """Link ``identity`` to the customer the code was issued for, if it may be.

    What the sender said before the link joins the customer's conversation when
    it is still open (within ``continuity_window``), so the story goes on in one thread.
    """
    code = normalize_code(raw_code)
    row = None
    if code is not None:
        row = await session.scalar(
            select(LinkCode).where(LinkCode.code_hash == hash_code(code)).with_for_update()
        )
    if row is None:
        return Redemption(LinkResult.UNKNOWN, identity.customer_id)
    if row.used_at is not None:
        return Redemption(LinkResult.USED, identity.customer_id)
    if now >= row.expires_at:
        return Redemption(LinkResult.EXPIRED, identity.customer_id)
    row.used_at = now
    row.used_by_identity_id = identity.id
    target = await current_customer(session, row.customer_id)
    if target == identity.customer_id:
        await session.flush()
        return Redemption(LinkResult.ALREADY_LINKED, target)
    if not await is_anonymous(session, identity.customer_id, besides_identity=identity.id):
        await record_identity_event(
            session,
            action="link_refused",
            actor=CUSTOMER_ACTOR,
            method=LINK_METHOD,
            identity_id=identity.id,
            from_customer_id=identity.customer_id,
            to_customer_id=target,
            detail={"reason": "the sending identity belongs to another known customer"},
            now=now,
        )
        return Redemption(LinkResult.CONFLICT, identity.customer_id)
    # The sender was anonymous: its identity moves and its story (if any) follows. It is
    # as verified as the identity that asked for the code, never more.
    verified = bool(
        row.issued_to_identity_id
        and await session.scalar(
            select(ChannelIdentity.verified).where(ChannelIdentity.id == row.issued_to_identity_id)
        )
    )
    await session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.id == identity.id)
        .values(
            customer_id=target,
            verified=verified,
            verified_via=LINK_METHOD if verified else None,
        )
    )
    await record_identity_event(
        session,
        action="link",
        actor=CUSTOMER_ACTOR,
        method=LINK_METHOD,
        identity_id=identity.id,
        from_customer_id=identity.customer_id,
        to_customer_id=target,
        now=now,
    )
    if await has_story(session, identity.customer_id):
        await merge_customers(
            session,
            target,
            identity.customer_id,
            actor=CUSTOMER_ACTOR,
            method=LINK_METHOD,
            now=now,
            into_conversation=await _open_conversation(session, target, now, continuity_window),
        )
    return Redemption(LinkResult.LINKED, target, verified)


async def _open_conversation(
    session: AsyncSession, customer_id: int, now: datetime, window: timedelta | None
) -> int | None:
    if window is None:
        return None
    latest = (
        await session.execute(
            select(Conversation.id, Conversation.last_message_at)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.started_at.desc(), Conversation.id.desc())
            .limit(1)
        )
    ).first()
    if latest is None or now - latest.last_message_at > window:
        return None
    return int(latest.id)
