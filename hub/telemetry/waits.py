"""How long each conversation waited for its first agent, by queue.

A journal tap: every state change emits ``setExternalInfo``, so a batch that assigns a
conversation for the first time (it sets ``assigned_at``; a transfer does not) carries one;
the wait from the escalation is counted once the batch commits, by the process whose
journal wrote it (so the processes' counts add up). Looking costs one comparison per
envelope; only state changes are looked at further.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.eventbus import Envelope
    from hub.journal import Scope
    from hub.telemetry.metrics import HubMetrics

STATE_CHANGE = "setExternalInfo"


def wait_tap(metrics: HubMetrics) -> Callable[[Scope, list[Envelope]], Awaitable[None]]:
    async def tap(scope: Scope, envelopes: list[Envelope]) -> None:
        seen: set[str] = set()
        for envelope in envelopes:
            if envelope.action != STATE_CHANGE or envelope.conversation_id in seen:
                continue
            seen.add(envelope.conversation_id)
            conversation = await scope.conversation(envelope.conversation_id)
            if conversation["status"] != "assigned" or "assigned_at" not in conversation.changed:
                continue
            waited = (conversation["assigned_at"] - conversation["created_at"]).total_seconds()
            observe = metrics.queue_waits.labels(conversation["queue"]).observe
            scope.after_commit(partial(observe, max(0.0, waited)))

    return tap
