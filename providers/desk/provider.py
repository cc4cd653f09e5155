"""The desk adapter: routes conversations to the hub's own agents.

A conversation that reaches the desk joins its waiting list. With ``assignment = "auto"``
(the default) it is offered, first come first served, to the least busy agent who is
online, has room (their chats and offers below their limit), and has its language and
skills; the agent accepts it in the dashboard. An offer not accepted within
``offer_timeout_seconds`` goes to the next agent; the agent it expired on, like an agent
who sends a chat back to the queue, is not offered that conversation again for
``reoffer_after_seconds``. With ``"manual"`` every agent sees it and claims it by hand.
Either way taking a conversation is atomic: two agents cannot both get it.

Only accepted chats count against an agent's limit: an agent below it may accept any
conversation they are qualified for, whatever is offered to them (offers beyond their
room then go to others).

An agent who goes away or offline gives their offers back to the queue; the chats they
hold stay theirs (the lifecycle's presence expiry decides about those).

Only the agent who holds a chat answers in it. An admin watching it (the dashboards
listening on ``watch:<conversation id>`` see its messages live) takes it over
explicitly: the agent is told, the chatbot sees the admin join.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal, Unpack

from pydantic import Field

from providers import (
    Availability,
    AvailabilityRequest,
    Capability,
    Closing,
    ConversationRef,
    Handoff,
    Health,
    Opened,
    OutboundMessage,
    Provider,
    ProviderConfig,
    ProviderContext,
    ProviderError,
)
from providers.workspace import DeskAgent, DeskError, TransferTarget, Waiting, Workspace

log = logging.getLogger(__name__)


class DeskConfig(ProviderConfig):
    assignment: Literal["auto", "manual"] = "auto"
    # An offer not accepted within this goes to the next agent who can take it.
    offer_timeout_seconds: float = Field(45.0, gt=0)
    # An agent an offer expired on, or who sent the chat back to the queue, is not offered
    # that conversation again for this long (0: at once).
    reoffer_after_seconds: float = Field(300.0, ge=0)
    # When an agent sets themselves offline (or signs out), their chats go back to the
    # queue too, not only their offers. (An agent whose dashboard vanished, or who is
    # disabled, always gives their chats back: nobody would answer there.)
    requeue_on_offline: bool = False


def _least_busy(agents: list[DeskAgent], entry: Waiting, load: dict[str, int]) -> DeskAgent | None:
    able = [
        agent
        for agent in agents
        if agent.id not in entry.passed_by
        and agent.can_take(language=entry.language, skills=entry.skills)
        and agent.max_chats - agent.active - agent.offered - load.get(agent.id, 0) > 0
    ]
    if not able:
        return None
    return min(able, key=lambda a: (a.active + a.offered + load.get(a.id, 0), a.name, a.id))


def _known(agent: DeskAgent | None) -> DeskAgent:
    if agent is None:
        raise DeskError("unknown_agent", "this agent does not exist or is disabled")
    return agent


class DeskProvider(Provider):
    name = "desk"
    title = "Agent desk (the hub's own agents)"
    config_model = DeskConfig
    capabilities = frozenset(
        {
            Capability.USER_TYPING,
            Capability.READ_RECEIPTS,
            Capability.MEDIA,
            Capability.TRANSFER,
            Capability.QUEUE_POSITION,
        }
    )

    def __init__(self, instance: str, config: DeskConfig, context: ProviderContext) -> None:
        super().__init__(instance, config, context)
        self.config: DeskConfig = config
        self._dispatching = asyncio.Lock()
        # The position and wait each waiting conversation was last told, so it is told
        # again only when they change.
        self._announced: dict[str, tuple[int, float | None]] = {}

    @property
    def workspace(self) -> Workspace:
        return self.context.workspace

    @property
    def audience(self) -> str:
        return f"desk:{self.instance}"

    def _watchers(self, conversation_id: str) -> str:
        """Admins watching this conversation in the dashboard."""
        return f"watch:{conversation_id}"

    def _changed(self, conversation_id: str) -> None:
        self.workspace.notify(
            self._watchers(conversation_id), {"type": "changed", "conversationId": conversation_id}
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self.workspace.register_desk(self)
        await self.dispatch()

    async def check(self) -> Health:
        return Health(ok=True)

    # -- the hub's calls -----------------------------------------------------------------------

    async def availability(self, request: AvailabilityRequest) -> Availability:
        agents = [
            agent
            for agent in await self.workspace.agents()
            if agent.presence == "online"
            and (
                not agent.languages
                or not request.language
                or request.language.split("-")[0] in agent.languages
            )
            and set(request.skills) <= agent.skills
        ]
        if not agents:
            return Availability(open=False, reason="no-agents", agents_online=0)
        return Availability(
            open=True, agents_online=len(agents), estimated_wait=await self._wait(request.queue)
        )

    async def _wait(self, queue: str) -> float | None:
        """The one wait estimate, the same wherever it is shown (availability, the
        escalation's answer, the queue position): the average of the queue's recent real
        waits, rounded to the second; None (unknown) with no history yet, never a guess."""
        measured = await self.workspace.average_wait(queue)
        return None if measured is None else round(measured)

    async def open(self, handoff: Handoff) -> Opened:
        await self.workspace.enqueue(
            self.instance,
            handoff.conversation_id,
            queue=handoff.queue,
            language=handoff.user.language,
            skills=handoff.skills,
        )
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        # Offers go out now; this conversation's own position travels in the answer.
        await self.dispatch(answering=handoff.conversation_id)
        position, wait = self._announced.get(handoff.conversation_id, (None, None))
        return Opened(
            ref=handoff.conversation_id, status="queued", position=position, estimated_wait=wait
        )

    async def deliver(self, message: OutboundMessage) -> None:
        event: dict[str, Any] = {
            "type": "message",
            "conversationId": message.conversation.id,
            "message": {
                "id": message.id,
                "text": message.text,
                "sentAt": message.sent_at.isoformat(),
            },
        }
        if message.media is not None:
            event["message"]["media"] = {
                "id": message.media.id,
                "name": message.media.name,
                "contentType": message.media.content_type,
                "size": message.media.size,
            }
        await self._to_holder(message.conversation.id, event)

    async def close(self, closing: Closing) -> None:
        conversation_id = closing.conversation.id
        holder = await self.workspace.holder(conversation_id, ended_ok=True)
        await self.workspace.drop(conversation_id)
        event = {
            "type": "closed",
            "conversationId": conversation_id,
            "reason": closing.reason,
            "by": closing.by,
        }
        if holder is not None:
            self.workspace.notify(holder, event)
        self.workspace.notify(self._watchers(conversation_id), event)
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()

    async def user_typing(self, conversation: ConversationRef, typing: bool) -> None:
        await self._to_holder(
            conversation.id,
            {"type": "typing", "conversationId": conversation.id, "typing": typing},
        )

    async def user_read(self, conversation: ConversationRef, up_to: str) -> None:
        await self._to_holder(
            conversation.id, {"type": "read", "conversationId": conversation.id, "upTo": up_to}
        )

    async def transfer(
        self, conversation: ConversationRef, *, queue: str | None, agent_id: str | None
    ) -> None:
        """A transfer the hub asks for (not from an agent)."""
        if agent_id is not None:
            target = await self._available(agent_id)
            await self.workspace.hand_over(self.instance, conversation.id, target.agent)
            self.workspace.notify(agent_id, {"type": "assigned", "conversationId": conversation.id})
        else:
            await self.workspace.requeue(self.instance, conversation.id, queue=queue, skills=None)
        self._changed(conversation.id)
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()

    async def queue_position(
        self, conversation: ConversationRef
    ) -> tuple[int | None, float | None]:
        waiting = await self.workspace.waiting(self.instance)
        for index, entry in enumerate(waiting):
            if entry.conversation_id == conversation.id:
                return index + 1, await self._wait(entry.queue)
        return None, None

    async def _to_holder(self, conversation_id: str, event: dict[str, Any]) -> None:
        holder = await self.workspace.holder(conversation_id)
        # Not yet taken: whoever opens it from the waiting list sees it there.
        self.workspace.notify(holder or self.audience, event)
        self.workspace.notify(self._watchers(conversation_id), event)

    # -- the dashboard's calls (the Desk protocol) ---------------------------------------------

    async def _agent(self, agent_id: str) -> DeskAgent:
        return _known(await self.workspace.agent(agent_id))

    async def _available(self, agent_id: str) -> DeskAgent:
        agent = await self._agent(agent_id)
        if agent.presence == "offline":
            raise DeskError("offline", f"{agent.name} is offline")
        if agent.active >= agent.max_chats:
            raise DeskError(
                "at_capacity", f"{agent.name} already has {agent.active} of {agent.max_chats} chats"
            )
        return agent

    async def _holding(self, agent_id: str, conversation_id: str) -> DeskAgent:
        """The agent, if they hold the conversation (an admin takes it over first)."""
        found, holds = await self.workspace.agent_in_chat(agent_id, conversation_id)
        agent = _known(found)
        if not holds:
            raise DeskError("not_yours", "this conversation is not assigned to you")
        return agent

    async def take_over(self, admin_id: str, conversation_id: str) -> str:
        """An admin takes a chat over from its agent, whatever their own status and load:
        the agent is told (``taken_over``), the chatbot sees the admin join. Returns the
        id of the agent who had it."""
        admin = await self._agent(admin_id)
        if admin.role != "admin":
            raise DeskError("admins_only", "only an admin takes a chat over")
        holder = await self.workspace.holder(conversation_id)
        if holder is None:
            raise DeskError("not_assigned", "this conversation is not in a chat with an agent")
        if holder == admin_id:
            return holder
        await self.workspace.hand_over(self.instance, conversation_id, admin.agent)
        self.workspace.notify(
            holder, {"type": "taken_over", "conversationId": conversation_id, "by": admin.name}
        )
        self._changed(conversation_id)
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()  # the agent has room for one more
        return holder

    async def accept(self, agent_id: str, conversation_id: str) -> None:
        agent = await self._available(agent_id)
        entry = next(
            (
                e
                for e in await self.workspace.waiting(self.instance)
                if e.conversation_id == conversation_id
            ),
            None,
        )
        if entry is None:
            raise DeskError("taken", "this conversation is no longer waiting")
        if entry.offered_to != agent_id and not agent.qualified(
            language=entry.language, skills=entry.skills
        ):
            raise DeskError(
                "not_eligible", "this conversation needs a language or skill you do not have"
            )
        if not await self.workspace.assign(
            self.instance, conversation_id, agent.agent, offered_only=True
        ):
            raise DeskError("taken", "someone else took this conversation")
        await self._trim_offers(agent_id)
        self._changed(conversation_id)
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()

    async def _trim_offers(self, agent_id: str) -> None:
        """Offers beyond an agent's room (they accepted something else) go back: the next
        dispatch offers what fits to them again, the rest to others."""
        agent = await self.workspace.agent(agent_id)
        if agent is not None and agent.offered and agent.active + agent.offered > agent.max_chats:
            returned = await self.workspace.withdraw_offers(agent_id)
            self.workspace.notify(
                agent_id, {"type": "offers.withdrawn", "conversationIds": returned}
            )

    async def expire_offers(self) -> int:
        expired = await self.workspace.expire_offers(
            self.instance,
            older_than=self.config.offer_timeout_seconds,
            pass_for=self.config.reoffer_after_seconds,
        )
        by_agent: dict[str, list[str]] = {}
        for conversation_id, agent_id in expired:
            by_agent.setdefault(agent_id, []).append(conversation_id)
        for agent_id, conversation_ids in by_agent.items():
            self.workspace.notify(
                agent_id,
                {
                    "type": "offers.withdrawn",
                    "conversationIds": conversation_ids,
                    "reason": "expired",
                },
            )
        if expired:
            self.workspace.notify(self.audience, {"type": "inbox.changed"})
        # Also offers what waits for an agent whose pass is over.
        await self.dispatch()
        return len(expired)

    async def reply(
        self, agent_id: str, conversation_id: str, html: str, *, media_id: str | None = None
    ) -> str:
        agent = await self._holding(agent_id, conversation_id)
        message_id = await self.context.agent_message(
            conversation_id, html, agent=agent.agent, media_id=media_id
        )
        self.workspace.notify(
            self._watchers(conversation_id),
            {"type": "agent.message", "conversationId": conversation_id, "messageId": message_id},
        )
        return message_id

    async def typing(self, agent_id: str, conversation_id: str, typing: bool) -> None:
        agent = await self._holding(agent_id, conversation_id)
        await self.context.agent_typing(conversation_id, typing, agent=agent.agent)

    async def mark_read(self, agent_id: str, conversation_id: str, message_id: str) -> None:
        await self._holding(agent_id, conversation_id)
        await self.context.message_status(conversation_id, message_id, "read")

    async def transfer_by(
        self, agent_id: str, conversation_id: str, **target: Unpack[TransferTarget]
    ) -> None:
        await self._holding(agent_id, conversation_id)
        to_agent = target.get("to_agent")
        if to_agent is not None:
            if to_agent == agent_id:
                raise DeskError("same_agent", "the conversation is already yours")
            taker = await self._available(to_agent)
            await self.workspace.hand_over(self.instance, conversation_id, taker.agent)
            self.workspace.notify(to_agent, {"type": "assigned", "conversationId": conversation_id})
        else:
            await self.workspace.requeue(
                self.instance,
                conversation_id,
                queue=target.get("to_queue"),
                skills=target.get("skills"),
                passed_by=agent_id,
                pass_for=self.config.reoffer_after_seconds,
            )
        self.workspace.notify(agent_id, {"type": "transferred", "conversationId": conversation_id})
        self._changed(conversation_id)
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()

    async def close_by(self, agent_id: str, conversation_id: str, reason: str) -> None:
        await self._holding(agent_id, conversation_id)
        await self.context.conversation_closed(conversation_id, reason)
        await self.workspace.drop(conversation_id)
        self.workspace.notify(
            self._watchers(conversation_id),
            {"type": "closed", "conversationId": conversation_id, "reason": reason, "by": "agent"},
        )
        self.workspace.notify(self.audience, {"type": "inbox.changed"})
        await self.dispatch()

    async def presence_changed(self, agent_id: str, *, vanished: bool = False) -> None:
        """Offers of an agent who is not online go back. Their chats go back too when they
        are gone (disabled, or their dashboard vanished: ``vanished``), or, with
        ``requeue_on_offline``, when they set themselves offline or sign out."""
        agent = await self.workspace.agent(agent_id)
        if agent is None or agent.presence != "online":
            returned = await self.workspace.withdraw_offers(agent_id)
            if returned:
                self.workspace.notify(
                    agent_id, {"type": "offers.withdrawn", "conversationIds": returned}
                )
        offline = agent is None or agent.presence == "offline"
        if offline and (agent is None or vanished or self.config.requeue_on_offline):
            for conversation_id in await self.workspace.assigned(self.instance, agent_id):
                await self.workspace.requeue(
                    self.instance, conversation_id, queue=None, skills=None
                )
                self.workspace.notify(
                    agent_id, {"type": "transferred", "conversationId": conversation_id}
                )
        await self.dispatch()

    async def profile_changed(self, agent_id: str) -> None:
        agent = await self._agent(agent_id)
        for conversation_id in await self.workspace.assigned(self.instance, agent_id):
            await self.context.agent_profile(conversation_id, agent.agent)

    # -- assignment ------------------------------------------------------------------------------

    async def dispatch(self, answering: str | None = None) -> None:
        """Offer waiting conversations to free agents (auto mode), then tell every waiting
        conversation whose position or wait changed (except ``answering``, whose ``open``
        answer carries it)."""
        async with self._dispatching:
            waiting = await self.workspace.waiting(self.instance)
            if self.config.assignment == "auto" and waiting:
                agents = await self.workspace.agents()
                load: dict[str, int] = {}
                for entry in waiting:
                    if entry.offered_to is not None:
                        continue
                    agent = _least_busy(agents, entry, load)
                    if agent is None:
                        continue
                    if await self.workspace.offer(entry.conversation_id, agent.id):
                        load[agent.id] = load.get(agent.id, 0) + 1
                        self.workspace.notify(
                            agent.id, {"type": "offer", "conversationId": entry.conversation_id}
                        )
                if load:
                    self.workspace.notify(self.audience, {"type": "inbox.changed"})
            waits = {queue: await self._wait(queue) for queue in {e.queue for e in waiting}}
            still = {entry.conversation_id for entry in waiting}
            for gone in set(self._announced) - still:
                del self._announced[gone]
            for index, entry in enumerate(waiting):
                announcement = (index + 1, waits[entry.queue])
                if self._announced.get(entry.conversation_id) == announcement:
                    continue
                self._announced[entry.conversation_id] = announcement
                if entry.conversation_id == answering:
                    continue
                try:
                    await self.context.queue_update(entry.conversation_id, *announcement)
                except ProviderError:  # ended meanwhile: the next dispatch will not see it
                    self._announced.pop(entry.conversation_id, None)
