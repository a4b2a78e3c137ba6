"""Who is writing: (channel, external user) → identity → customer.

A new identity is a new customer unless the channel itself vouches for who
it is (a shop login verified by HMAC, an email proven on another path); then
it is linked to that customer and marked verified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from memory.ports import UnitOfWork
from memory.records import CustomerRecord, IdentityRecord

log = logging.getLogger(__name__)

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Claims:
    """What the channel asserts about the sender, beyond its own user id."""

    customer_ref: str | None = None
    email: str | None = None
    display_name: str | None = None


async def resolve_identity(
    uow: UnitOfWork, channel: str, external_user_id: str, claims: Claims, now: datetime
) -> IdentityRecord:
    """Find or create the identity, linking it to a known customer when vouched for."""
    identity = await uow.identities.get(channel, external_user_id)
    vouched_customer = await _vouched_customer(uow, claims, now)
    if identity is None:
        if vouched_customer is not None:
            return await uow.identities.add(
                channel=channel,
                external_user_id=external_user_id,
                customer_id=vouched_customer,
                verified=True,
                verified_via="shop_login" if claims.customer_ref else "email",
                display_name=claims.display_name,
                now=now,
            )
        customer = await uow.customers.create(now=now, name=claims.display_name)
        return await uow.identities.add(
            channel=channel,
            external_user_id=external_user_id,
            customer_id=customer.id,
            verified=False,
            verified_via=None,
            display_name=claims.display_name,
            now=now,
        )
    if needs_touch(identity, now):
        await uow.identities.touch(identity.id, now)
    if vouched_customer is not None and not identity.verified:
        # An unverified identity now proven speaks for the vouched customer from here
        # on, and brings the story it told while anonymous along.
        via = "shop_login" if claims.customer_ref else "email"
        await uow.identities.verify(identity.id, customer_id=vouched_customer, via=via)
        await uow.customers.absorb_anonymous(identity.customer_id, vouched_customer)
        return IdentityRecord(
            id=identity.id,
            channel=identity.channel,
            external_user_id=identity.external_user_id,
            customer_id=vouched_customer,
            verified=True,
            verified_via=via,
            display_name=identity.display_name,
        )
    if vouched_customer is not None and vouched_customer != identity.customer_id:
        # Already verified as someone else: conflicting ids are never merged silently.
        log.warning(
            "identity %s/%s is verified for customer %s; ignoring a claim for customer %s",
            channel,
            external_user_id,
            identity.customer_id,
            vouched_customer,
        )
    return identity


def taken_as_is(
    identity: IdentityRecord | None, claims: Claims, vouched: CustomerRecord | None
) -> bool:
    """Whether :func:`resolve_identity` would take ``identity`` as it is (touch aside).

    It exists, and the customer the channel vouches for (``vouched``, looked up by
    the claim), if it vouches at all, is the one it is already verified for.
    """
    if identity is None:
        return False
    if not claims.customer_ref and not claims.email:
        return True
    return vouched is not None and identity.verified and identity.customer_id == vouched.id


def needs_touch(identity: IdentityRecord, now: datetime) -> bool:
    """Seen again: reachable, and ``last_seen_at`` kept to the minute (no write on every
    message)."""
    last_seen = identity.last_seen_at
    return identity.unreachable or last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION


async def _vouched_customer(uow: UnitOfWork, claims: Claims, now: datetime) -> int | None:
    if claims.customer_ref:
        customer = await uow.customers.by_ref(claims.customer_ref)
        if customer is None:
            customer = await uow.customers.create(
                now=now, external_ref=claims.customer_ref, name=claims.display_name
            )
        return customer.id
    if claims.email:
        customer = await uow.customers.by_email(claims.email)
        if customer is None:
            customer = await uow.customers.create(
                now=now, email=claims.email, name=claims.display_name
            )
        return customer.id
    return None


async def prove_by_order(
    uow: UnitOfWork,
    identity: IdentityRecord,
    *,
    order_customer_id: int | None,
    order_email: str,
    given_email: str,
) -> IdentityRecord:
    """Proof by order number + the email on that order: the identity becomes verified.

    Only an unverified identity is re-linked; a mismatch changes nothing.
    """
    if identity.verified or order_customer_id is None:
        return identity
    if order_email.strip().lower() != given_email.strip().lower():
        return identity
    await uow.identities.verify(identity.id, customer_id=order_customer_id, via="order_email")
    await uow.customers.absorb_anonymous(identity.customer_id, order_customer_id)
    return IdentityRecord(
        id=identity.id,
        channel=identity.channel,
        external_user_id=identity.external_user_id,
        customer_id=order_customer_id,
        verified=True,
        verified_via="order_email",
        display_name=identity.display_name,
    )
