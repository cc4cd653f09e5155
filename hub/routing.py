"""Queues: which queue an escalation joins, and that queue's chain of provider instances."""

from __future__ import annotations

from hub.errors import Invalid
from hub.settings import ChainStep, QueueSettings

DEFAULT_QUEUE = "default"


def _language_matches(wanted: str | None, accepted: list[str]) -> bool:
    if not accepted:
        return True
    if not wanted:
        return False
    wanted = wanted.lower()
    return wanted in accepted or wanted.split("-")[0] in accepted


class Router:
    """Matches escalations to queues, in the order the config declares them."""

    def __init__(self, queues: list[QueueSettings], instances: list[str]) -> None:
        if not queues and instances:
            # Nothing declared: one queue that tries every provider instance in turn.
            queues = [
                QueueSettings(
                    name=DEFAULT_QUEUE, chain=[ChainStep(provider=name) for name in instances]
                )
            ]
        self.queues = queues
        self._by_name = {queue.name: queue for queue in queues}

    def get(self, name: str) -> QueueSettings | None:
        return self._by_name.get(name)

    def match(
        self,
        *,
        bot_id: str,
        language: str | None,
        skills: list[str],
        requested: str | None,
    ) -> QueueSettings | None:
        """The queue for an escalation; None when no queue serves it.

        A queue named by the bot must exist and serve that bot (422 otherwise). Otherwise,
        among the queues whose bots and languages match, in config order: with skills
        asked for, the first queue that has them all, else the first queue without skills;
        with none asked for, the first queue without skills (a specialist queue only takes
        what asks for its skills).
        """
        if requested is not None:
            queue = self._by_name.get(requested)
            if queue is None:
                known = ", ".join(self._by_name) or "none"
                raise Invalid(
                    f"queue {requested!r} does not exist (queues: {known})",
                    code="unknown_queue",
                )
            if queue.bots and bot_id not in queue.bots:
                raise Invalid(f"queue {requested!r} does not serve this bot", code="unknown_queue")
            return queue
        candidates = [
            queue
            for queue in self.queues
            if (not queue.bots or bot_id in queue.bots)
            and _language_matches(language, queue.languages)
        ]
        if skills:
            for queue in candidates:
                if queue.skills and set(skills) <= set(queue.skills):
                    return queue
        return next((queue for queue in candidates if not queue.skills), None)
