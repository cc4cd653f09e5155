"""The agent side, as the kit plays it: events an adapter must pass to the hub.

A test makes its adapter report each kind of event the way its platform would (a signed
webhook, an email reply, a click in a dashboard) through an :class:`AgentSide`; the kit
checks that each arrives at the :class:`RecordingContext` once, with what it carried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from providers.context import MessageStatus
from providers.testing.context import ContextCall
from providers.testing.samples import ANA, BEN
from providers.values import Agent, ConversationRef

# The kinds, named after the ProviderContext method each one ends in.
AGENT_EVENTS: tuple[str, ...] = (
    "agent_joined",
    "agent_left",
    "agent_message",
    "agent_typing",
    "agent_profile",
    "message_status",
    "queue_update",
    "ticket_created",
    "conversation_closed",
)
# These end the conversation: nothing of the same kind can follow them.
TERMINAL = frozenset({"ticket_created", "conversation_closed"})
# These are states, not events: their context methods take no event id, and a repeat
# changes nothing in the hub, so they are not checked for replays.
STATES = frozenset({"agent_typing", "queue_update"})


@dataclass(frozen=True)
class AgentEvent:
    """One thing that happens on the agent side of a conversation the adapter opened.

    ``event_id`` is the platform's id for it (what a retried delivery repeats). The other
    fields are what the event carries; each kind uses a few of them:

    - ``agent_joined``, ``agent_profile``: ``agent`` (the kit checks its id and name);
    - ``agent_left``: ``agent``, ``reason``;
    - ``agent_message``: ``agent``, ``text`` (plain, no markup: the kit looks for it in
      the HTML the adapter passes);
    - ``agent_typing``: ``agent``, ``typing``;
    - ``message_status``: ``message_id`` (a user message the kit delivered before,
      by its ``OutboundMessage.id``), ``status``;
    - ``queue_update``: ``position``, ``estimated_wait``;
    - ``ticket_created``: ``ticket_id``;
    - ``conversation_closed``: ``reason``.
    """

    kind: str
    conversation: ConversationRef
    event_id: str
    agent: Agent = ANA
    text: str = ""
    typing: bool = True
    message_id: str = ""
    status: MessageStatus = "read"
    position: int | None = None
    estimated_wait: float | None = None
    ticket_id: str = ""
    reason: str | None = None


Reporter = Callable[[AgentEvent], Awaitable[None]]


@dataclass(frozen=True)
class AgentSide:
    """How a test makes its adapter report agent-side events.

    ``reporters`` maps each kind the adapter supports (see :data:`AGENT_EVENTS`) to an
    async callable that makes the adapter report one event, as its platform would, and
    returns once the platform has sent it (the kit waits, boundedly, for the context call).

    ``replays``: the platform may send an event again (a retried webhook, a re-posted
    email). Then the kit sends every event twice and checks that the adapter passes a
    stable ``event_id``, so the second one changes nothing. Set it to False when events
    cannot come twice (a desk's agents act through direct calls).
    """

    reporters: Mapping[str, Reporter]
    replays: bool = True
    kinds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.reporters) - set(AGENT_EVENTS))
        if unknown:
            raise ValueError(
                f"unknown agent-side event kinds {unknown} (known: {', '.join(AGENT_EVENTS)})"
            )
        if not self.reporters:
            raise ValueError("an AgentSide needs at least one reporter")
        object.__setattr__(self, "kinds", tuple(k for k in AGENT_EVENTS if k in self.reporters))


def events_for(
    kind: str, conversation: ConversationRef, message_ids: tuple[str, str]
) -> tuple[AgentEvent, AgentEvent]:
    """Two different events of one kind on one conversation (the second is only sent for
    kinds that do not end the conversation)."""
    first = AgentEvent(kind, conversation, f"evt-{kind}-1")
    second = AgentEvent(kind, conversation, f"evt-{kind}-2")
    if kind == "agent_joined":
        return first, _with(second, agent=BEN)  # a transfer
    if kind == "agent_left":
        return _with(first, reason="away"), _with(second, reason="transfer")
    if kind == "agent_message":
        return (
            _with(first, text="Hello, this is Ana from the support team."),
            _with(second, text="Your order A-17 ships today."),
        )
    if kind == "agent_typing":
        return _with(first, typing=True), _with(second, typing=False)
    if kind == "agent_profile":
        return (
            _with(first, agent=Agent(ANA.id, "Ana Garcia", ANA.icon_url)),
            _with(second, agent=Agent(ANA.id, "Ana G.", None)),
        )
    if kind == "message_status":
        return (
            _with(first, message_id=message_ids[0], status="read"),
            _with(second, message_id=message_ids[1], status="read"),
        )
    if kind == "queue_update":
        return (
            _with(first, position=3, estimated_wait=120.0),
            _with(second, position=2, estimated_wait=60.0),
        )
    if kind == "ticket_created":
        return _with(first, ticket_id="TK-1001"), _with(second, ticket_id="TK-1002")
    if kind == "conversation_closed":
        return _with(first, reason="resolved"), _with(second, reason="resolved")
    raise ValueError(f"unknown agent-side event kind {kind!r}")


def _with(event: AgentEvent, **changes: object) -> AgentEvent:
    return AgentEvent(**{**event.__dict__, **changes})


def mismatch(call: ContextCall, event: AgentEvent) -> str | None:
    """What differs between a recorded context call and the event it should carry."""
    arguments = call.arguments
    wanted: dict[str, object] = {}
    got: dict[str, object] = {}
    if event.kind in ("agent_joined", "agent_profile"):
        agent = arguments.get("agent")
        wanted = {"agent id": event.agent.id, "agent name": event.agent.name}
        got = {"agent id": getattr(agent, "id", None), "agent name": getattr(agent, "name", None)}
    elif event.kind == "agent_message":
        html = str(arguments.get("html", ""))
        if event.text not in html:
            return f"the message's HTML {html!r} does not contain the agent's text {event.text!r}"
    elif event.kind == "agent_typing":
        wanted, got = {"typing": event.typing}, {"typing": arguments.get("typing")}
    elif event.kind == "message_status":
        wanted = {"message_id": event.message_id, "status": event.status}
        got = {"message_id": arguments.get("message_id"), "status": arguments.get("status")}
    elif event.kind == "queue_update":
        wanted = {"position": event.position, "estimated_wait": event.estimated_wait}
        got = {
            "position": arguments.get("position"),
            "estimated_wait": arguments.get("estimated_wait"),
        }
    elif event.kind == "ticket_created":
        wanted, got = {"ticket_id": event.ticket_id}, {"ticket_id": arguments.get("ticket_id")}
    if wanted != got:
        return f"expected {wanted}, the adapter passed {got}"
    return None
