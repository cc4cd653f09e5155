"""An agent workspace in memory, so a desk-like adapter runs in the kit without a hub."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Unpack

from providers.errors import ConversationEnded, UnknownConversation
from providers.values import Agent
from providers.workspace import Desk, DeskAgent, Needs, Presence, Requeue, Waiting, Workspace

if TYPE_CHECKING:
    from providers.testing.context import RecordingContext

WAIT_SAMPLE = 20  # waits averaged by ``average_wait``, as the hub does


@dataclass
class _Conversation:
    instance: str
    queue: str
    language: str | None
    skills: tuple[str, ...]
    first_queued: datetime  # a requeued conversation goes back to the front with this
    holder: str | None = None  # the agent it is assigned to now
    last_holder: str | None = None
    assigned_at: datetime | None = None
    ended: bool = False


class MemoryWorkspace(Workspace):
    """:class:`providers.workspace.Workspace` in memory, following its docstrings.

    A test adds agents (``add_agent``, ``set_presence``, ``update_agent``) and reads what
    the adapter did: ``notices`` (every ``notify``), ``desks`` (``register_desk``), and,
    once bound to a :class:`RecordingContext` (``RecordingContext(workspace=...)`` does
    it), the agent joins and leaves it reports there, as the hub's workspace reports them
    to the chatbot. Bound, it also knows which conversations the context owns and which
    have ended, and refuses the others with ``UnknownConversation`` / ``ConversationEnded``.
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.desks: dict[str, Desk] = {}
        self.notices: list[tuple[str, dict[str, Any]]] = []
        self._accounts: dict[str, DeskAgent] = {}
        self._conversations: dict[str, _Conversation] = {}
        self._waiting: dict[str, Waiting] = {}  # conversation id -> its place in the list
        self._waits: dict[str, deque[float]] = {}  # queue -> the last waits, in seconds
        self._offered_at: dict[str, datetime] = {}  # conversation id -> when it was offered
        self._passes: dict[str, dict[str, datetime]] = {}  # conversation -> agent -> until
        self._lock = asyncio.Lock()
        self._context: RecordingContext | None = None

    def bind(self, context: RecordingContext) -> None:
        self._context = context

    # -- what a test arranges and reads ---------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        name: str,
        *,
        icon_url: str | None = None,
        role: Literal["agent", "admin"] = "agent",
        presence: Presence = "online",
        max_chats: int = 3,
        skills: Iterable[str] = (),
        languages: Iterable[str] = (),
    ) -> DeskAgent:
        account = DeskAgent(
            id=agent_id,
            name=name,
            icon_url=icon_url,
            role=role,
            presence=presence,
            max_chats=max_chats,
            skills=frozenset(skills),
            languages=frozenset(languages),
            active=0,
            offered=0,
        )
        self._accounts[agent_id] = account
        return account

    def update_agent(self, agent_id: str, **changes: Any) -> None:
        """Change an account (``name``, ``icon_url``, ``presence``, ``max_chats``, ...)."""
        self._accounts[agent_id] = replace(self._accounts[agent_id], **changes)

    def set_presence(self, agent_id: str, presence: Presence) -> None:
        self.update_agent(agent_id, presence=presence)

    def remove_agent(self, agent_id: str) -> None:
        """The account is disabled: ``agent`` and ``agents`` no longer give it."""
        del self._accounts[agent_id]

    def notices_for(self, audience: str) -> list[dict[str, Any]]:
        return [event for to, event in self.notices if to == audience]

    # -- agents --------------------------------------------------------------------------------

    def _view(self, account: DeskAgent) -> DeskAgent:
        active = sum(
            1
            for conversation_id, c in self._conversations.items()
            if c.holder == account.id and not self._ended(conversation_id)
        )
        offered = sum(1 for w in self._waiting.values() if w.offered_to == account.id)
        return replace(account, active=active, offered=offered)

    async def agents(self) -> list[DeskAgent]:
        views = [self._view(account) for account in self._accounts.values()]
        return sorted(views, key=lambda agent: (agent.name, agent.id))

    async def agent(self, agent_id: str) -> DeskAgent | None:
        account = self._accounts.get(agent_id)
        return self._view(account) if account is not None else None

    async def agent_in_chat(
        self, agent_id: str, conversation_id: str
    ) -> tuple[DeskAgent | None, bool]:
        agent = await self.agent(agent_id)
        return agent, agent is not None and await self.holder(conversation_id) == agent_id

    async def holder(self, conversation_id: str, *, ended_ok: bool = False) -> str | None:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            return None
        if self._ended(conversation_id):
            return conversation.last_holder if ended_ok else None
        return conversation.holder

    async def assigned(self, instance: str, agent_id: str) -> list[str]:
        held = [
            (c.assigned_at or c.first_queued, conversation_id)
            for conversation_id, c in self._conversations.items()
            if c.instance == instance and c.holder == agent_id and not self._ended(conversation_id)
        ]
        return [conversation_id for _, conversation_id in sorted(held)]

    # -- the waiting list --------------------------------------------------------------------

    async def waiting(self, instance: str) -> list[Waiting]:
        now = self.clock()
        entries = [
            replace(
                entry,
                passed_by=frozenset(
                    agent
                    for agent, until in self._passes.get(conversation_id, {}).items()
                    if until > now
                ),
            )
            for conversation_id, entry in self._waiting.items()
            if self._conversations[conversation_id].instance == instance
            and not self._ended(conversation_id)
        ]
        return sorted(entries, key=lambda entry: (entry.queued_at, entry.conversation_id))

    async def enqueue(self, instance: str, conversation_id: str, **needs: Unpack[Needs]) -> None:
        if conversation_id in self._waiting:
            return
        queue, language, skills = needs["queue"], needs["language"], needs["skills"]
        now = self.clock()
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            conversation = _Conversation(instance, queue, language, tuple(skills), now)
            self._conversations[conversation_id] = conversation
        self._waiting[conversation_id] = Waiting(
            conversation_id, queue, language, tuple(skills), now, None
        )

    async def offer(self, conversation_id: str, agent_id: str | None) -> bool:
        entry = self._waiting.get(conversation_id)
        if entry is None:
            return False
        self._waiting[conversation_id] = replace(entry, offered_to=agent_id)
        if agent_id is None:
            self._offered_at.pop(conversation_id, None)
        else:
            self._offered_at[conversation_id] = self.clock()
        return True

    async def withdraw_offers(self, agent_id: str) -> list[str]:
        returned = [cid for cid, entry in self._waiting.items() if entry.offered_to == agent_id]
        for conversation_id in returned:
            self._waiting[conversation_id] = replace(
                self._waiting[conversation_id], offered_to=None
            )
            self._offered_at.pop(conversation_id, None)
        return returned

    async def expire_offers(
        self, instance: str, *, older_than: float, pass_for: float
    ) -> list[tuple[str, str]]:
        now = self.clock()
        expired = []
        for conversation_id, entry in list(self._waiting.items()):
            offered_at = self._offered_at.get(conversation_id)
            if (
                entry.offered_to is None
                or offered_at is None
                or self._conversations[conversation_id].instance != instance
                or (now - offered_at).total_seconds() <= older_than
            ):
                continue
            expired.append((conversation_id, entry.offered_to))
            if pass_for > 0:
                self._passes.setdefault(conversation_id, {})[entry.offered_to] = now + timedelta(
                    seconds=pass_for
                )
            self._waiting[conversation_id] = replace(entry, offered_to=None)
            self._offered_at.pop(conversation_id, None)
        return expired

    async def assign(
        self, instance: str, conversation_id: str, agent: Agent, *, offered_only: bool
    ) -> bool:
        async with self._lock:
            conversation = self._owned(instance, conversation_id)
            if conversation.holder == agent.id:
                return True
            entry = self._waiting.get(conversation_id)
            if entry is None:
                return False  # someone else took it
            if offered_only and entry.offered_to not in (None, agent.id):
                return False  # offered to someone else
            await self._join(conversation_id, conversation, agent)
            return True

    async def hand_over(self, instance: str, conversation_id: str, agent: Agent) -> None:
        async with self._lock:
            conversation = self._owned(instance, conversation_id)
            await self._join(conversation_id, conversation, agent)

    async def requeue(
        self, instance: str, conversation_id: str, **options: Unpack[Requeue]
    ) -> None:
        queue, skills = options["queue"], options["skills"]
        passed_by, pass_for = options.get("passed_by"), options.get("pass_for", 0.0)
        async with self._lock:
            conversation = self._owned(instance, conversation_id)
            self._passes.pop(conversation_id, None)
            if passed_by is not None and pass_for > 0:
                self._passes[conversation_id] = {
                    passed_by: self.clock() + timedelta(seconds=pass_for)
                }
            if conversation.holder is not None and self._context is not None:
                await self._context.agent_left(conversation_id)
            conversation.holder = None
            conversation.queue = queue or conversation.queue
            if skills is not None:
                conversation.skills = tuple(skills)
            self._waiting[conversation_id] = Waiting(
                conversation_id,
                conversation.queue,
                conversation.language,
                conversation.skills,
                conversation.first_queued,  # back at the front: it has waited since then
                None,
            )

    async def drop(self, conversation_id: str) -> None:
        self._waiting.pop(conversation_id, None)
        self._offered_at.pop(conversation_id, None)
        self._passes.pop(conversation_id, None)
        conversation = self._conversations.get(conversation_id)
        if conversation is not None:
            conversation.ended = True

    async def average_wait(self, queue: str) -> float | None:
        waits = self._waits.get(queue)
        return sum(waits) / len(waits) if waits else None

    # -- the dashboards' side ------------------------------------------------------------------

    def register_desk(self, desk: Desk) -> None:
        self.desks[desk.instance] = desk

    def notify(self, audience: str, event: dict[str, Any]) -> None:
        self.notices.append((audience, event))

    # -- helpers ---------------------------------------------------------------------------------

    def _ended(self, conversation_id: str) -> bool:
        conversation = self._conversations.get(conversation_id)
        if conversation is not None and conversation.ended:
            return True
        return self._context is not None and conversation_id in self._context.ended

    def _owned(self, instance: str, conversation_id: str) -> _Conversation:
        """The conversation, if ``instance`` holds it and it is open (else the context's
        errors, as the hub's workspace raises them)."""
        conversation = self._conversations.get(conversation_id)
        owned_by_context = self._context is None or conversation_id in self._context.owned
        if conversation is None or conversation.instance != instance or not owned_by_context:
            raise UnknownConversation(
                f"conversation {conversation_id!r} is not held by provider {instance!r}"
            )
        if self._ended(conversation_id):
            raise ConversationEnded(f"conversation {conversation_id!r} has ended")
        return conversation

    async def _join(self, conversation_id: str, conversation: _Conversation, agent: Agent) -> None:
        """Give the conversation to ``agent`` (the chatbot sees them join)."""
        if self._context is not None:
            await self._context.agent_joined(conversation_id, agent)
        self._waiting.pop(conversation_id, None)
        conversation.holder = agent.id
        conversation.last_holder = agent.id
        if conversation.assigned_at is None:
            now = self.clock()
            conversation.assigned_at = now
            waits = self._waits.setdefault(conversation.queue, deque(maxlen=WAIT_SAMPLE))
            waits.append((now - conversation.first_queued).total_seconds())
