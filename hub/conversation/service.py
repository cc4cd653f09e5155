"""The conversation operations, as the v1 API, the provider contexts and the dashboard use them.

Provider calls (``availability``, ``open``, ``user_typing``) happen here, outside any
database transaction; everything that changes a conversation is a unit of work in the
journal. Routing walks the queue's chain: a step that is unhealthy, closed, has no one
online, refuses, fails or times out hands the conversation to the next one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Unpack

from hub.conversation import agent_side, failover, opening, user_side
from hub.conversation.user_side import Stored
from hub.db import Database
from hub.errors import Conflict, NotFound
from hub.journal import Journal, Scope
from hub.models import OPEN_STATUSES, Conversation
from hub.outbox import Dispatcher
from hub.plugins import Instance, ProviderHost
from hub.routing import Router
from hub.settings import ChainStep, Lifecycle, QueueSettings
from hub.store.conversations import get_conversation
from hub.telemetry.context import bind, log_context
from providers import (
    Availability,
    AvailabilityRequest,
    Capability,
    ConversationRef,
    Handoff,
    Opened,
    ProviderAuthError,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    SupportsTransfer,
    SupportsUserTyping,
    TicketCreated,
    TranscriptItem,
    UserInfo,
)
from providers.values import AvailabilityReason

log = logging.getLogger(__name__)

# Where an escalation goes when no queue serves it (it ends "disabled" at once).
UNMATCHED_QUEUE = "unmatched"
# A transcript item's own fields; any other key goes to the item's extra.
_TRANSCRIPT_FIELDS = frozenset({"user", "message", "datetime", "id", "externalId"})


@dataclass(frozen=True, slots=True)
class Escalated:
    conversation: Conversation  # as it stands once routing has answered
    created: bool  # False: a replayed key, or the session's open conversation
    queue: QueueSettings | None  # the queue that serves it (None: none did)


@dataclass(frozen=True, slots=True)
class QueueAvailability:
    queue: str | None
    open: bool
    reason: AvailabilityReason
    agents_online: int
    estimated_wait: float | None
    ticket_fallback: bool


def handoff_of(conversation: Conversation, wait_limit: float | None) -> Handoff:
    user = conversation.user_info
    return Handoff(
        conversation_id=conversation.id,
        bot_id=conversation.bot_id,
        session_id=conversation.session_id,
        queue=conversation.queue,
        user=UserInfo(
            name=user.get("name"),
            last_name=user.get("lastName"),
            email=user.get("email"),
            language=user.get("language"),
            extra=user.get("extra") or {},
        ),
        inquiry=conversation.inquiry,
        transcript=tuple(
            TranscriptItem(
                user=item["user"],
                message=item["message"],
                datetime=item.get("datetime"),
                id=item.get("id"),
                external_id=item.get("externalId"),
                extra={key: value for key, value in item.items() if key not in _TRANSCRIPT_FIELDS},
            )
            for item in conversation.transcript
        ),
        data=conversation.data,
        skills=tuple(conversation.skills),
        created_at=conversation.created_at,
        wait_limit=wait_limit,
    )


class ConversationService:
    def __init__(
        self,
        *,
        database: Database,
        journal: Journal,
        dispatcher: Dispatcher,
        host: ProviderHost,
        router: Router,
        provider_timeout: float,
        lifecycle: Lifecycle,
        workspace: Any = None,
    ) -> None:
        self.workspace = workspace
        self.database = database
        self.journal = journal
        self.dispatcher = dispatcher
        self.host = host
        self.router = router
        self.provider_timeout = provider_timeout
        self.lifecycle = lifecycle

    def _closed(self, queue: QueueSettings) -> bool:
        return queue.hours is not None and not queue.hours.is_open(self.journal.clock.now())

    # -- availability and escalation ------------------------------------------------------

    async def _availability(
        self, instance: Instance, request: AvailabilityRequest
    ) -> Availability | None:
        """An instance's availability; None when it cannot be asked (unhealthy, failing)."""
        if not instance.usable or instance.provider is None:
            return None
        try:
            return await asyncio.wait_for(
                instance.provider.availability(request), self.provider_timeout
            )
        except ProviderAuthError as exc:
            instance.report(False, f"credentials rejected: {exc}")
            return None
        except (ProviderError, TimeoutError) as exc:  # expected: one line, no traceback
            log.warning(
                "provider %s could not answer availability: %s: %s",
                instance.name,
                type(exc).__name__,
                exc or f"no answer within {self.provider_timeout:g}s",
            )
            return None
        except Exception:
            log.exception("provider %s crashed answering availability", instance.name)
            return None

    async def someone_available(self, name: str, request: AvailabilityRequest) -> bool | None:
        """Could the instance ``name`` take such a conversation now (someone online)?
        False when it is missing or unhealthy; None when it could not say."""
        instance = self.host.get(name)
        if instance is None or not instance.usable:
            return False
        answer = await self._availability(instance, request)
        return None if answer is None else answer.open

    async def availability(
        self, *, bot_id: str, queue: str | None, language: str | None, skills: list[str]
    ) -> QueueAvailability:
        matched = self.router.match(
            bot_id=bot_id, language=language, skills=skills, requested=queue
        )
        if matched is None:
            return QueueAvailability(None, False, "disabled", 0, None, False)
        if not matched.enabled:
            return QueueAvailability(matched.name, False, "disabled", 0, None, False)
        request = AvailabilityRequest(
            queue=matched.name, language=language, skills=tuple(skills), bot_id=bot_id
        )
        if self._closed(matched):
            after = await asyncio.gather(
                *(self._step_availability(step.provider, request) for step in matched.out_of_hours)
            )
            ticket = any(a is not None and a.kind == "ticket" and a.open for a in after)
            return QueueAvailability(matched.name, False, "closed", 0, None, ticket)
        answers = await asyncio.gather(
            *(self._step_availability(step.provider, request) for step in matched.chain)
        )
        live = [a for a in answers if a is not None and a.kind == "live"]
        ticket = any(a is not None and a.kind == "ticket" and a.open for a in answers)
        agents = sum(a.agents_online or 0 for a in live)
        open_live = [a for a in live if a.open]
        if open_live:
            first = open_live[0]
            return QueueAvailability(
                matched.name, True, "open", agents, first.estimated_wait, ticket
            )
        reason = next((a.reason for a in live if a.reason in ("closed", "no-agents")), None)
        return QueueAvailability(matched.name, False, reason or "no-agents", agents, None, ticket)

    async def _step_availability(
        self, name: str, request: AvailabilityRequest
    ) -> Availability | None:
        instance = self.host.get(name)
        return None if instance is None else await self._availability(instance, request)

    def match_queue(
        self, *, bot_id: str, language: str | None, skills: list[str], requested: str | None
    ) -> QueueSettings | None:
        return self.router.match(
            bot_id=bot_id, language=language, skills=skills, requested=requested
        )

    async def escalate(self, escalation: opening.Escalation) -> Escalated:
        """Match the queue, create (or find) the conversation and, if new, route it along
        its chain; the conversation as routing left it. A queue asked for that does not
        exist or serve the bot is refused (422) before anything is written."""
        queue = self.match_queue(
            bot_id=escalation.bot_id,
            language=escalation.language,
            skills=escalation.skills,
            requested=escalation.asked_queue,
        )
        chain_length = len(queue.chain) if queue is not None else 0
        new = opening.NewConversation.filed(
            escalation,
            queue=queue.name if queue is not None else UNMATCHED_QUEUE,
            # Time for every step of the chain to answer open() twice, and then some.
            route_within=30 + 2 * chain_length * self.provider_timeout,
        )
        created = await self.journal.run(partial(opening.create, new=new))
        if created.created:
            await self.route(created.conversation_id, fresh=True, known=created.conversation)
        async with self.database.lookup() as conn:
            conversation = await get_conversation(created.conversation_id, conn=conn)
        if conversation is None:
            raise NotFound("the conversation was removed while it was being created")
        return Escalated(conversation, created.created, queue)

    async def route(
        self,
        conversation_id: str,
        start: int = 0,
        *,
        fresh: bool = False,
        skipped: tuple[str, ...] = (),
        moved: bool = False,
        known: Conversation | None = None,
    ) -> None:
        """Walk the chain from step ``start`` until a provider takes the conversation.

        A ``fresh`` escalation to a queue that is closed now walks the queue's
        ``out_of_hours`` steps instead (and the conversation remembers that). ``skipped``
        carries the reasons of steps passed before (a wait limit that ran out); ``moved``
        says the user was waiting at an earlier step, and is told why it was passed when
        the next step queues them again. ``known`` is the conversation as just written,
        when the caller has it."""
        with log_context(conversation=conversation_id):
            await self._route(
                conversation_id, start, fresh=fresh, skipped=skipped, moved=moved, known=known
            )

    async def _route(
        self,
        conversation_id: str,
        start: int,
        *,
        fresh: bool,
        skipped: tuple[str, ...],
        moved: bool,
        known: Conversation | None,
    ) -> None:
        conversation = known
        if conversation is None:
            async with self.database.lookup() as conn:
                conversation = await get_conversation(conversation_id, conn=conn)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        queue = self.router.get(conversation.queue)
        reasons = list(skipped)
        after_hours = conversation.after_hours
        if queue is not None and fresh and self._closed(queue):
            after_hours = True
            reasons.append("closed")
        chain: list[ChainStep] = []
        if queue is not None and queue.enabled:
            chain = queue.out_of_hours if after_hours else queue.chain
        await self._walk(conversation, chain, start, reasons, after_hours, moved=moved)

    async def _walk(
        self,
        conversation: Conversation,
        chain: list[ChainStep],
        start: int,
        skipped: list[str],
        after_hours: bool,
        *,
        moved: bool = False,
    ) -> None:
        conversation_id = conversation.id
        request = AvailabilityRequest(
            queue=conversation.queue,
            language=conversation.language,
            skills=tuple(conversation.skills),
            bot_id=conversation.bot_id,
        )
        for index in range(start, len(chain)):
            step = chain[index]
            instance = self.host.get(step.provider)
            if instance is None or instance.provider is None:
                skipped.append("unavailable")
                continue
            bind(provider=instance.name)  # until route() returns
            availability = await self._availability(instance, request)
            if availability is None:
                skipped.append("unavailable")
                continue
            if not availability.open:
                skipped.append(availability.reason)
                continue
            wait_limit = self.lifecycle.wait_limit(step)
            entered = await self.journal.run(
                partial(
                    opening.enter_step,
                    conversation_id=conversation_id,
                    step=index,
                    instance=instance.name,
                    after_hours=after_hours,
                ),
                conversations=(conversation_id,),
            )
            if not entered:
                return  # the conversation ended while it was being routed
            try:
                result = await asyncio.wait_for(
                    instance.provider.open(handoff_of(conversation, wait_limit)),
                    self.provider_timeout,
                )
            except ProviderUnavailable as exc:
                skipped.append(exc.reason)
                continue
            except ProviderRefused:
                skipped.append("refused")
                continue
            except ProviderAuthError as exc:
                instance.report(False, f"credentials rejected: {exc}")
                skipped.append("error")
                continue
            except ProviderError as exc:  # typed: expected, no traceback needed
                log.warning(
                    "provider %s could not open %s: %s: %s",
                    instance.name,
                    conversation_id,
                    type(exc).__name__,
                    exc,
                )
                skipped.append("error")
                continue
            except Exception:
                log.warning(
                    "provider %s failed to open %s", instance.name, conversation_id, exc_info=True
                )
                skipped.append("error")
                continue
            if isinstance(result, Opened):
                await self.journal.run(
                    partial(
                        opening.opened,
                        conversation_id=conversation_id,
                        instance=instance.name,
                        result=result,
                        wait_limit=wait_limit,
                        dispatcher=self.dispatcher,
                        moved_because=_shown_reason(skipped) if moved else None,
                    ),
                    conversations=(conversation_id,),
                )
                return
            if isinstance(result, TicketCreated):
                await self.journal.run(
                    partial(
                        opening.ticketed,
                        conversation_id=conversation_id,
                        instance=instance.name,
                        ticket_id=result.ticket_id,
                        ref=result.ref,
                        skipped_reason=_shown_reason(skipped),
                    ),
                    conversations=(conversation_id,),
                )
                return
            log.error("provider %s returned %r from open()", instance.name, result)
            skipped.append("error")
        await self.journal.run(
            partial(
                opening.unserved,
                conversation_id=conversation_id,
                reason=_shown_reason(skipped) or "no-agents",
            ),
            conversations=(conversation_id,),
        )

    # -- transfers -------------------------------------------------------------------------

    async def move(
        self,
        conversation_id: str,
        *,
        instance: str,
        queue: str | None = None,
        agent_id: str | None = None,
        next_step: bool = False,
        event_id: str | None = None,
    ) -> None:
        """A provider hands the conversation on (``ProviderContext.request_transfer``): to
        a queue (routed from its first step), an agent of the hub's desk, or the next step
        of its chain. ``ValueError`` for a target that does not exist; nothing changes."""
        if sum((queue is not None, agent_id is not None, bool(next_step))) != 1:
            raise ValueError("give exactly one of queue, agent_id and next_step")
        async with self.database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        if conversation is None or conversation.provider != instance:

            async def replayed(scope: Scope) -> None:
                # A replay answers as the first time; anything else is unknown here.
                await agent_side.held(scope, conversation_id, instance, event_id)

            await self.journal.run(replayed, conversations=(conversation_id,))
            return
        current = self.router.get(conversation.queue)
        chain: list[ChainStep] = []
        start = 0
        if queue is not None:
            target = self.router.get(queue)
            if target is None or not target.enabled:
                raise ValueError(f"queue {queue!r} does not exist or is disabled")
            chain = target.chain
        elif agent_id is not None:
            desk = await self._desk_for(agent_id, current)
            chain = [ChainStep(provider=desk)]
        else:
            if current is not None:
                chain = current.out_of_hours if conversation.after_hours else current.chain
            start = conversation.chain_step + 1
            if start >= len(chain):
                raise ValueError("the conversation is at the last step of its chain")

        async def hand_off(scope: Scope) -> bool:
            state = await agent_side.held(scope, conversation_id, instance, event_id)
            if state is None or await agent_side.seen(scope, instance, event_id, conversation_id):
                return False
            await failover.move_on(
                scope,
                state,
                instance=instance,
                dispatcher=self.dispatcher,
                failover=None,
                reason="transfer",
            )
            if queue is not None:
                state.set(queue=queue, after_hours=False)
            return True

        if not await self.journal.run(hand_off, conversations=(conversation_id,)):
            return  # a replay: it was moved the first time
        async with self.database.lookup() as conn:
            moved = await get_conversation(conversation_id, conn=conn)
        assert moved is not None
        await self._walk(moved, chain, start, [], moved.after_hours)
        if agent_id is not None:
            await self._to_agent(conversation_id, chain[0].provider, agent_id)

    async def _desk_for(self, agent_id: str, queue: QueueSettings | None) -> str:
        """The desk instance an agent of the hub takes a transfer on (the queue's, if any)."""
        workspace = self.workspace
        if workspace is None or await workspace.agent(agent_id) is None:
            raise ValueError(f"agent {agent_id!r} does not exist")
        desks = [i.name for i in self.host if i.usable and workspace.desk_for(i.name)]
        in_queue = [s.provider for s in (queue.chain if queue else []) if s.provider in desks]
        if not (in_queue or desks):
            raise ValueError("the hub has no desk to transfer to an agent")
        return (in_queue or desks)[0]

    async def _to_agent(self, conversation_id: str, desk: str, agent_id: str) -> None:
        async with self.database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        provider = self.host.provider(desk)
        if conversation is None or conversation.provider != desk or provider is None:
            return  # the desk did not take it: the chain went on
        if isinstance(provider, SupportsTransfer):
            ref = ConversationRef(conversation.id, conversation.provider_ref)
            try:
                await provider.transfer(ref, queue=None, agent_id=agent_id)
            except Exception as exc:  # the agent went offline meanwhile: it waits at the desk
                log.warning(
                    "conversation %s waits at desk %s: agent %s cannot take it: %s",
                    conversation_id,
                    desk,
                    agent_id,
                    exc,
                )

    async def transfer(
        self, conversation_id: str, *, queue: str | None, agent_id: str | None
    ) -> None:
        """A person in the hub moves a conversation a provider holds: the provider's
        ``transfer()`` does it (409 when the provider cannot transfer)."""
        async with self.database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        provider = self.host.provider(conversation.provider)
        if (
            provider is None
            or conversation.status not in OPEN_STATUSES
            or not provider.supports(Capability.TRANSFER)
            or not isinstance(provider, SupportsTransfer)
        ):
            raise Conflict(
                "the provider holding this conversation cannot transfer it",
                code="transfer_not_supported",
            )
        ref = ConversationRef(conversation.id, conversation.provider_ref)
        try:
            await asyncio.wait_for(
                provider.transfer(ref, queue=queue, agent_id=agent_id), self.provider_timeout
            )
        except (ProviderError, TimeoutError) as exc:
            log.warning(
                "provider %s could not transfer %s: %s: %s",
                conversation.provider,
                conversation_id,
                type(exc).__name__,
                exc,
            )
            raise Conflict(
                f"the provider could not transfer it: {exc or type(exc).__name__}",
                code="transfer_failed",
            ) from None

    # -- the user's side -------------------------------------------------------------------

    async def send_message(
        self, conversation_id: str, *, client_id: str, text: str, media_id: str | None
    ) -> Stored:
        if media_id is not None:
            await self._require_media_support(conversation_id)
        return await self.journal.run(
            partial(
                user_side.user_message,
                conversation_id=conversation_id,
                client_id=client_id,
                text=text,
                media_id=media_id,
                dispatcher=self.dispatcher,
            ),
            conversations=(conversation_id,),
        )

    async def _require_media_support(self, conversation_id: str) -> None:
        async with self.database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        provider = self.host.provider(conversation.provider if conversation else None)
        if provider is not None and not provider.supports(Capability.MEDIA):
            raise Conflict(
                "the provider handling this conversation does not accept files",
                code="media_not_supported",
            )

    async def store_media(
        self, conversation_id: str, **file: Unpack[user_side.NewFile]
    ) -> dict[str, Any]:
        return await self.journal.run(
            partial(user_side.store_media, conversation_id=conversation_id, **file),
            conversations=(conversation_id,),
        )

    async def upload(
        self, conversation_id: str, **upload: Unpack[user_side.Upload]
    ) -> tuple[dict[str, Any], Stored]:
        await self._require_media_support(conversation_id)
        return await self.journal.run(
            partial(
                user_side.upload,
                conversation_id=conversation_id,
                dispatcher=self.dispatcher,
                **upload,
            ),
            conversations=(conversation_id,),
        )

    async def user_typing(self, conversation: Conversation, typing: bool) -> bool:
        """Pass the user's typing to the provider, if it takes it; True when passed on.

        The hub remembers it: typing that is not refreshed ends by itself (the lifecycle
        tells the provider), and a refresh is not passed on again."""
        news = await self.journal.run(
            partial(
                user_side.user_typing,
                conversation_id=conversation.id,
                typing=typing,
                ttl=timedelta(seconds=self.lifecycle.user_typing_seconds),
            ),
            conversations=(conversation.id,),
        )
        if not news:
            return False
        return await self.tell_typing(conversation, typing)

    async def tell_typing(self, conversation: Conversation, typing: bool) -> bool:
        provider = self.host.provider(conversation.provider)
        if (
            provider is None
            or conversation.provider_ref is None
            or not provider.supports(Capability.USER_TYPING)
            or not isinstance(provider, SupportsUserTyping)
        ):
            return False
        try:
            await asyncio.wait_for(
                provider.user_typing(
                    ConversationRef(conversation.id, conversation.provider_ref), typing
                ),
                self.provider_timeout,
            )
        except (ProviderError, TimeoutError) as exc:  # expected: one line, no traceback
            log.warning(
                "provider %s did not take typing for %s: %s: %s",
                conversation.provider,
                conversation.id,
                type(exc).__name__,
                exc,
            )
            return False
        except Exception:
            log.exception("provider %s crashed taking typing", conversation.provider)
            return False
        return True

    async def user_read(self, conversation_id: str, up_to: str) -> None:
        async with self.database.lookup() as conn:
            conversation = await get_conversation(conversation_id, conn=conn)
        provider = self.host.provider(conversation.provider if conversation else None)
        await self.journal.run(
            partial(
                user_side.user_read,
                conversation_id=conversation_id,
                up_to=up_to,
                forward=provider is not None and provider.supports(Capability.READ_RECEIPTS),
                dispatcher=self.dispatcher,
            ),
            conversations=(conversation_id,),
        )

    async def close(self, conversation_id: str, *, reason: str, by: str) -> bool:
        return await self.journal.run(
            partial(
                user_side.close,
                conversation_id=conversation_id,
                reason=reason,
                by=by,
                dispatcher=self.dispatcher,
            ),
            conversations=(conversation_id,),
        )

    async def rate(self, conversation_id: str, *, value: str, comment: str | None) -> None:
        await self.journal.run(
            partial(user_side.rate, conversation_id=conversation_id, value=value, comment=comment),
            conversations=(conversation_id,),
        )


def _shown_reason(skipped: list[str]) -> str | None:
    """Why the live steps did not take the conversation, as the user should hear it:
    the first step that was closed or had no one, else None."""
    return next((reason for reason in skipped if reason in ("closed", "no-agents")), None)
