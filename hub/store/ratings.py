"""The users' ratings of their chats, summed up per agent and per queue.

A rating is what the chatbot sent (``POST .../rating``): a number (the SDK's 1..5 scale)
or a yes/no answer. Numbers are averaged; yes/no answers are counted as the share that
said yes; anything else only counts as a rating given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from math import isfinite

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Conversation, table

CONVERSATIONS = table(Conversation)
YES = frozenset({"yes", "y", "true", "up", "thumbs-up", "thumbs_up", "positive", "good"})
NO = frozenset({"no", "n", "false", "down", "thumbs-down", "thumbs_down", "negative", "bad"})


def score(value: str) -> float | bool | None:
    """A rating as a number (averaged), a yes/no (True/False), or None (neither)."""
    text = value.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    try:
        number = float(text)
    except ValueError:
        return None
    return number if isfinite(number) else None


@dataclass(frozen=True, slots=True)
class RatingSummary:
    key: str  # the agent's id, or the queue's name
    name: str
    count: int
    average: float | None  # of the numeric ratings
    numeric: int
    positive: float | None  # the share of yes among the yes/no ratings
    answered: int


def summarise(key: str, name: str, values: Iterable[str]) -> RatingSummary:
    numbers: list[float] = []
    answers: list[bool] = []
    count = 0
    for value in values:
        count += 1
        scored = score(value)
        if isinstance(scored, bool):
            answers.append(scored)
        elif scored is not None:
            numbers.append(scored)
    return RatingSummary(
        key=key,
        name=name,
        count=count,
        average=sum(numbers) / len(numbers) if numbers else None,
        numeric=len(numbers),
        positive=sum(answers) / len(answers) if answers else None,
        answered=len(answers),
    )


@dataclass(frozen=True, slots=True)
class Ratings:
    by_agent: list[RatingSummary]
    by_queue: list[RatingSummary]


async def rating_summaries(*, conn: AsyncConnection, since: datetime) -> Ratings:
    """Ratings of the conversations that ended since ``since``: per agent who last held
    them (by name) and per queue (by name)."""
    c = CONVERSATIONS.c
    rows = await conn.execute(
        sa.select(c.agent_id, c.agent_name, c.queue, c.rating_value).where(
            c.rating_value.is_not(None), c.ended_at >= since
        )
    )
    agents: defaultdict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    queues: defaultdict[str, list[str]] = defaultdict(list)
    for row in rows:
        queues[row.queue].append(row.rating_value)
        if row.agent_id is not None:
            agents[row.agent_id].append(row.rating_value)
            names[row.agent_id] = row.agent_name or row.agent_id
    return Ratings(
        by_agent=sorted(
            (summarise(agent, names[agent], values) for agent, values in agents.items()),
            key=lambda summary: (summary.name.lower(), summary.key),
        ),
        by_queue=[summarise(queue, queue, queues[queue]) for queue in sorted(queues)],
    )
