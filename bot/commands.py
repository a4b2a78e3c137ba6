"""Link commands a customer can send on any channel.

* ``/link`` — get a one-time code for continuing on another channel;
* ``/link CODE`` (any channel) or ``/start CODE`` (a Telegram deep link) — this
  chat now speaks for the customer who asked for the code.

The pipeline calls :func:`handle_link_command` right after identity resolution.
The command and its reply are stored in the customer's conversation and the
reply goes out through the outbox, in the one transaction of the event.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from memory.conversations import continue_or_start
from memory.identity import Claims, resolve_identity
from memory.linking import CODE_TTL, IssuedCode, LinkCodes, LinkResult
from memory.ports import UnitOfWork
from memory.records import EventRecord, IdentityRecord

TELEGRAM_DEEP_LINK = "https://t.me/{bot}?start={code}"
_COMMAND = re.compile(r"^/(link|start)(?:@[A-Za-z0-9_]+)?(?:\s+(\S+))?\s*$", re.IGNORECASE)

REPLIES = {
    LinkResult.LINKED: (
        "Done: this chat is now linked to your account. I can see our earlier "
        "conversation, so just carry on where you left off."
    ),
    LinkResult.ALREADY_LINKED: "This chat is already linked to that account; just carry on.",
    LinkResult.UNKNOWN: (
        "I don't recognise that link code. Check it, or send /link on the other channel "
        "for a new one."
    ),
    LinkResult.EXPIRED: (
        "That link code has expired (codes work for {minutes} minutes). Send /link on the "
        "other channel for a new one."
    ),
    LinkResult.USED: (
        "That link code has already been used, and each code works only once. Send /link "
        "on the other channel for a new one."
    ),
    LinkResult.CONFLICT: (
        "This chat already belongs to a different customer account, so I can't link it with "
        "a code. Our support team can merge the two accounts for you: just ask for a person."
    ),
}


@dataclass(frozen=True, slots=True)
class LinkCommand:
    code: str | None  # None: the customer asks for a code


@dataclass(frozen=True, slots=True)
class CommandReply:
    conversation_id: int
    customer_id: int
    text: str
    reply_message_id: int


def parse_link_command(text: str) -> LinkCommand | None:
    """``/link``, ``/link CODE`` or ``/start CODE``; None for anything else (plain ``/start``
    is a greeting, not a link)."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, code = match.group(1).lower(), match.group(2)
    if name == "start" and code is None:
        return None
    return LinkCommand(code=code)


def issued_code_reply(issued: IssuedCode, telegram_bot: str | None = None) -> str:
    minutes = int(CODE_TTL / timedelta(minutes=1))
    text = (
        f"Your link code is {issued.code}. To continue on another channel, send "
        f"/link {issued.code} there"
    )
    if telegram_bot:
        deep_link = TELEGRAM_DEEP_LINK.format(bot=telegram_bot, code=issued.code)
        text += f", or open {deep_link} to continue on Telegram"
    return text + f". The code works once, for the next {minutes} minutes."


def link_store(uow: UnitOfWork) -> LinkCodes:
    """The store's link codes, in this unit of work's transaction."""
    identities = uow.identities
    if not isinstance(identities, LinkCodes):
        raise TypeError(f"{type(identities).__name__} cannot issue or redeem link codes")
    return identities


async def handle_link_command(
    uow: UnitOfWork,
    event: EventRecord,
    identity: IdentityRecord,
    command: LinkCommand,
    *,
    continuity_window: timedelta,
    now: datetime,
    telegram_bot: str | None = None,
) -> CommandReply:
    """Issue or redeem a code, store the command and the reply, queue it; commit."""
    links = link_store(uow)
    customer_id = identity.customer_id
    if command.code is None:
        issued = await links.issue_link_code(identity, channel=event.channel, now=now)
        text, result = issued_code_reply(issued, telegram_bot), "issued"
    else:
        redemption = await links.redeem_link_code(
            command.code, identity, now=now, continuity_window=continuity_window
        )
        customer_id = redemption.customer_id
        minutes = int(CODE_TTL / timedelta(minutes=1))
        text, result = REPLIES[redemption.result].format(minutes=minutes), redemption.result.value
    thread = await continue_or_start(uow, customer_id, event.channel, now, continuity_window)
    conversation = thread.conversation
    await uow.messages.add(
        conversation_id=conversation.id,
        customer_id=customer_id,
        author="customer",
        channel=event.channel,
        text=event.text,
        now=now,
        inbound_event_id=event.id,
        meta={"command": "link"},
    )
    reply_id = await uow.messages.add(
        conversation_id=conversation.id,
        customer_id=customer_id,
        author="bot",
        channel=event.channel,
        text=text,
        now=now,
        meta={"kind": "command", "command": "link", "result": result},
    )
    await uow.outbox.enqueue(
        message_id=reply_id,
        conversation_id=conversation.id,
        channel=event.channel,
        external_user_id=event.external_user_id,
        now=now,
    )
    await uow.events.mark_done(event.id, now)
    await uow.commit()
    return CommandReply(conversation.id, customer_id, text, reply_id)


LinkCodeIssuer = Callable[[str, str | None], Awaitable[tuple[str, datetime]]]


def link_code_issuer(
    uow: Callable[[], UnitOfWork], clock: Callable[[], datetime], channel: str
) -> LinkCodeIssuer:
    """``issue(external_user_id, verified_customer_ref) -> (code, expires_at)`` for a
    channel's own "continue elsewhere" button (the web chat's "Continue on Telegram")."""

    async def issue(
        external_user_id: str, verified_customer_ref: str | None
    ) -> tuple[str, datetime]:
        now = clock()
        async with uow() as work:
            claims = Claims(customer_ref=verified_customer_ref)
            identity = await resolve_identity(work, channel, external_user_id, claims, now)
            issued = await link_store(work).issue_link_code(identity, channel=channel, now=now)
            await work.commit()
        return issued.code, issued.expires_at

    return issue
