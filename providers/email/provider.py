"""The email provider: an escalation becomes a ticket email, and replies can come back."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from aiohttp import web

from providers import (
    Availability,
    AvailabilityRequest,
    Closing,
    Handoff,
    Health,
    Opened,
    OpenResult,
    OutboundMessage,
    Provider,
    ProviderContext,
    ProviderError,
    ProviderUnavailable,
    TicketCreated,
)
from providers.email import references
from providers.email.compose import Composer, Outgoing, Thread, fallback_thread
from providers.email.config import EmailConfig, mailbox
from providers.email.inbound import InboundMail
from providers.email.memory import Memory
from providers.email.sender import SmtpSender

# How long the hub remembers what was sent (a retry comes within minutes; a replay of an
# old escalation id after this long is not expected).
SENT_TTL = 30 * 24 * 3600.0


class EmailProvider(Provider):
    """Tickets by email through an SMTP server (aiosmtplib).

    ``open`` sends the ticket (user, inquiry, escalation data, the bot transcript) to the
    support address and returns ``TicketCreated`` (``Opened`` in chat mode); the user gets
    a confirmation in the background when they left an address. The ticket id and every
    Message-ID derive from the conversation id, so replies thread back after a restart.

    Idempotency is kept by the hub (``context.store``): a second ``open`` (or ``deliver``
    of the same message id, or ``close``) sends nothing, also after a restart or from
    another hub process. Calls after ``stop()`` raise ``ProviderUnavailable("stopped")``.

    ``deliver`` mails the user's message to the support address in the ticket's thread.
    ``close`` sends, in chat mode only, a closing note in the thread so agents know the
    chat is over (once per conversation); for a ticket there is nothing to close, and it
    does nothing.
    """

    name = "email"
    title = "Email tickets (SMTP)"
    config_model = EmailConfig
    capabilities = frozenset()

    def __init__(self, instance: str, config: EmailConfig, context: ProviderContext) -> None:
        super().__init__(instance, config, context)
        self.config: EmailConfig = config
        self.composer = Composer(config)
        self.sender = SmtpSender(config, context.logger)
        self.memory = Memory()
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------

    def routes(self) -> Sequence[web.RouteDef]:
        if self.config.inbound_secret is None:
            return ()
        own = {mailbox(self.config.from_address)[1].lower()}
        inbound = InboundMail(
            secret=self.config.inbound_secret,
            max_bytes=self.config.inbound_max_bytes,
            domain=self.config.domain,
            ticket_prefix=self.config.ticket_prefix,
            own_addresses=frozenset(own),
            agent_name=self.config.agent_name,
            context=self.context,
            memory=self.memory,
        )
        return [web.post("/inbound", inbound.handle)]

    async def start(self) -> None:
        await self.sender.prepare()

    async def stop(self) -> None:
        """Let pending confirmations finish (for at most one send's time), then cancel them."""
        self._stopped = True
        pending = set(self._background)
        if not pending:
            return
        try:
            await asyncio.wait(pending, timeout=self.config.timeout)
        finally:  # also when the hub gives up waiting for stop() itself
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def check(self) -> Health:
        return await self.sender.check()

    async def availability(self, request: AvailabilityRequest) -> Availability:
        return Availability(open=True, kind="live" if self.config.mode == "chat" else "ticket")

    # -- the calls ------------------------------------------------------------------------------

    def ticket_id(self, conversation_id: str) -> str:
        return references.ticket_id(conversation_id, self.config.ticket_prefix)

    def _result(self, ticket_id: str) -> OpenResult:
        if self.config.mode == "chat":
            return Opened(ref=ticket_id, status="queued")
        return TicketCreated(ticket_id=ticket_id, ref=ticket_id)

    def _running(self) -> None:
        if self._stopped:
            raise ProviderUnavailable("stopped")

    async def _sent(self, key: str) -> bool:
        return bool(await self.context.store.get(f"sent:{key}"))

    async def _mark_sent(self, key: str) -> None:
        await self.context.store.set(f"sent:{key}", True, ttl=SENT_TTL)

    async def open(self, handoff: Handoff) -> OpenResult:
        self._running()
        conversation_id = handoff.conversation_id
        async with self.memory.locks.hold(("open", conversation_id)):
            known = self.memory.threads.get(conversation_id)
            if known is not None:
                return self._result(known.ticket_id)
            thread = self.composer.thread(handoff, self.ticket_id(conversation_id))
            if await self._sent(f"ticket:{conversation_id}"):
                self.memory.remember(thread)
                return self._result(thread.ticket_id)  # sent before a restart
            await self._send(self.composer.ticket(handoff, thread), what="ticket")
            self.memory.remember(thread)
            await self._mark_sent(f"ticket:{conversation_id}")
        if self.config.confirm_user:
            confirmation = self.composer.confirmation(handoff, thread)
            if confirmation is not None:
                self._in_background(self._confirm(confirmation, conversation_id))
        return self._result(thread.ticket_id)

    async def deliver(self, message: OutboundMessage) -> None:
        self._running()
        key = ("msg", message.id)
        async with self.memory.locks.hold(key):
            if key in self.memory.sent or await self._sent(f"msg:{message.id}"):
                return
            thread = self._thread(message.conversation.id)
            await self._send(self.composer.follow_up(message, thread), what="follow-up")
            self.memory.sent.put(key, True)
            await self._mark_sent(f"msg:{message.id}")

    async def close(self, closing: Closing) -> None:
        self._running()
        if self.config.mode != "chat":
            return
        key = ("close", closing.conversation.id)
        async with self.memory.locks.hold(key):
            if key in self.memory.sent or await self._sent(f"close:{closing.conversation.id}"):
                return
            thread = self._thread(closing.conversation.id)
            await self._send(self.composer.closing_note(closing, thread), what="closing note")
            self.memory.sent.put(key, True)
            await self._mark_sent(f"close:{closing.conversation.id}")

    # -- helpers ----------------------------------------------------------------------------------

    def _thread(self, conversation_id: str) -> Thread:
        known = self.memory.threads.get(conversation_id)
        if known is not None:
            return known
        return fallback_thread(conversation_id, self.ticket_id(conversation_id))

    async def _send(self, outgoing: Outgoing, *, what: str) -> None:
        await self.sender.send(outgoing, self.composer.envelope_from, what=what)

    async def _confirm(self, outgoing: Outgoing, conversation_id: str) -> None:
        try:
            await self._send(outgoing, what="confirmation")
        except ProviderError as exc:
            self.context.logger.warning(
                "the confirmation of %s was not sent: %s", conversation_id, exc
            )

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
