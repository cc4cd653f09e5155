"""The agent workspace: what an adapter that runs its own agents (the built-in desk) gets
from the hub, and what the dashboard asks of such an adapter.

The hub keeps the agents (accounts, presence, skills, limits) and a waiting list per desk
instance; a desk adapter reaches them through ``context.workspace`` (a :class:`Workspace`)
and decides who gets what. The dashboard, where agents work, drives the adapter through
the :class:`Desk` protocol it registers with the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, Required, TypedDict, Unpack, runtime_checkable

from providers.errors import ProviderError
from providers.values import Agent

Presence = Literal["online", "away", "offline"]


@dataclass(frozen=True, slots=True)
class DeskAgent:
    """An agent as a desk sees them: who, what they can take, how busy they are."""

    id: str
    name: str
    icon_url: str | None
    role: Literal["agent", "admin"]
    presence: Presence
    max_chats: int
    skills: frozenset[str]
    languages: frozenset[str]
    active: int  # conversations assigned to them now
    offered: int  # conversations offered to them, not yet accepted

    @property
    def agent(self) -> Agent:
        return Agent(self.id, self.name, self.icon_url)

    @property
    def free(self) -> int:
        """Room for more offers: the limit less the chats they have and those offered."""
        return max(0, self.max_chats - self.active - self.offered)

    def qualified(self, *, language: str | None, skills: frozenset[str] | tuple[str, ...]) -> bool:
        """Speaks the language and has every skill asked (whatever their status and load)."""
        if self.languages and language and language.split("-")[0] not in self.languages:
            return False
        return set(skills) <= self.skills

    def can_take(self, *, language: str | None, skills: frozenset[str] | tuple[str, ...]) -> bool:
        """Online, with room for one more offer, and qualified."""
        if self.presence != "online" or self.free <= 0:
            return False
        return self.qualified(language=language, skills=skills)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A conversation in a desk's waiting list, in the order it arrived."""

    conversation_id: str
    queue: str
    language: str | None
    skills: tuple[str, ...]
    queued_at: datetime
    offered_to: str | None
    # Agents not to offer it to for now: they let an offer of it expire, or sent it back.
    passed_by: frozenset[str] = field(default_factory=frozenset)


# The keyword options of the calls below, typed once for the protocols and every
# implementation (PEP 692): callers pass them by name, as ``enqueue(..., queue="support",
# language="en", skills=())``.


class Needs(TypedDict):
    """What a waiting conversation asks of the agent who takes it (``Workspace.enqueue``)."""

    queue: str
    language: str | None
    skills: tuple[str, ...]


class Requeue(TypedDict, total=False):
    """``Workspace.requeue``'s options: ``queue`` and ``skills`` replace the conversation's
    (None keeps them); ``passed_by``, who sent it back, is not offered it again for
    ``pass_for`` seconds (by default nobody is passed over)."""

    queue: Required[str | None]
    skills: Required[tuple[str, ...] | None]
    passed_by: str | None
    pass_for: float


class TransferTarget(TypedDict, total=False):
    """Where ``Desk.transfer_by`` sends a chat: to the agent ``to_agent``, or back to the
    waiting list, in ``to_queue`` (None: its own queue) asking ``skills`` (None: its own)."""

    to_agent: str | None
    to_queue: str | None
    skills: tuple[str, ...] | None


class DeskError(ProviderError):
    """An agent's action the desk cannot do; ``code`` says why (shown to the agent)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class Desk(Protocol):
    """What the dashboard asks of a desk adapter, always on behalf of one agent (the
    ``_by`` names keep clear of the Provider API's own ``transfer`` and ``close``)."""

    instance: str

    async def accept(self, agent_id: str, conversation_id: str) -> None: ...

    async def reply(
        self, agent_id: str, conversation_id: str, html: str, *, media_id: str | None = None
    ) -> str: ...

    async def typing(self, agent_id: str, conversation_id: str, typing: bool) -> None: ...

    async def mark_read(self, agent_id: str, conversation_id: str, message_id: str) -> None:
        """The agent has read the user's messages up to ``message_id`` (the user's ticks)."""
        ...

    async def transfer_by(
        self, agent_id: str, conversation_id: str, **target: Unpack[TransferTarget]
    ) -> None: ...

    async def close_by(self, agent_id: str, conversation_id: str, reason: str) -> None: ...

    async def take_over(self, admin_id: str, conversation_id: str) -> str:
        """An admin takes a chat over from its agent (who is told); returns that agent's id."""
        ...

    async def presence_changed(self, agent_id: str, *, vanished: bool = False) -> None:
        """The agent's status changed; ``vanished``: their dashboard stopped heartbeating."""
        ...

    async def profile_changed(self, agent_id: str) -> None: ...

    async def expire_offers(self) -> int:
        """Offers not accepted in time go to the next agent (the lifecycle calls this every
        tick); returns how many expired."""
        ...


class Workspace(Protocol):
    """The hub's side: agents, the waiting list, and the dashboards' live channel."""

    async def agents(self) -> list[DeskAgent]:
        """Every enabled agent, with presence and load at ``instance``-independent totals."""
        ...

    async def agent(self, agent_id: str) -> DeskAgent | None: ...

    async def agent_in_chat(
        self, agent_id: str, conversation_id: str
    ) -> tuple[DeskAgent | None, bool]:
        """``agent(agent_id)``, and whether the conversation is assigned to them (as
        ``holder`` says), read together: the desk checks both before each action in a chat."""
        ...

    async def holder(self, conversation_id: str, *, ended_ok: bool = False) -> str | None:
        """The id of the agent the conversation is assigned to, if any (with ``ended_ok``,
        also the last one of a conversation that has ended)."""
        ...

    async def assigned(self, instance: str, agent_id: str) -> list[str]:
        """The open conversations of ``instance`` assigned to an agent."""
        ...

    async def waiting(self, instance: str) -> list[Waiting]:
        """The instance's waiting conversations (still queued), oldest first."""
        ...

    async def enqueue(self, instance: str, conversation_id: str, **needs: Unpack[Needs]) -> None:
        """Put a conversation in the waiting list (no-op if it is there already)."""
        ...

    async def offer(self, conversation_id: str, agent_id: str | None) -> bool:
        """Offer a waiting conversation to one agent (None withdraws the offer)."""
        ...

    async def withdraw_offers(self, agent_id: str) -> list[str]:
        """Take back every offer made to an agent (they went away); returns the ids."""
        ...

    async def expire_offers(
        self, instance: str, *, older_than: float, pass_for: float
    ) -> list[tuple[str, str]]:
        """Take back the offers made more than ``older_than`` seconds ago; each agent is
        passed over for that conversation for ``pass_for`` seconds. Returns (conversation,
        agent) pairs, each once even with two hub processes at it."""
        ...

    async def assign(
        self, instance: str, conversation_id: str, agent: Agent, *, offered_only: bool
    ) -> bool:
        """Atomically take the conversation off the waiting list and give it to ``agent``
        (the chatbot sees the agent join). False if someone else took it first, or (with
        ``offered_only``) it is offered to someone else."""
        ...

    async def hand_over(self, instance: str, conversation_id: str, agent: Agent) -> None:
        """Give an assigned conversation to another agent (a transfer): the chatbot sees
        the first agent leave and the new one join."""
        ...

    async def requeue(
        self, instance: str, conversation_id: str, **options: Unpack[Requeue]
    ) -> None:
        """The agent leaves; the conversation waits again (at the front of the list)."""
        ...

    async def drop(self, conversation_id: str) -> None:
        """Remove from the waiting list (the conversation ended)."""
        ...

    async def average_wait(self, queue: str) -> float | None:
        """Seconds the queue's recent conversations waited before an agent took them (a
        moving average over the last few), or None with no history yet."""
        ...

    def register_desk(self, desk: Desk) -> None: ...

    def notify(self, audience: str, event: dict[str, Any]) -> None:
        """Push a live event to dashboards: ``audience`` is an agent id,
        ``"desk:<instance>"`` for every agent signed in, or ``"watch:<conversation id>"``
        for the admins watching that conversation."""
        ...
