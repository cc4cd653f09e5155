"""What ``/metrics`` reads when it is scraped, rather than counting as things happen.

From the database (the whole installation's figures, so every process reports the same;
aggregate them with ``max``, not ``sum``), read at most once per ``CACHE_SECONDS`` however
often and by however many Prometheus servers the process is scraped: queue lengths and
the oldest wait, open conversations by state, the outbox's backlog and dead letters.
From this process: provider instance health, the journal's commits, the outbox's
deliveries and the rows waiting in its lanes.

The database is never read on a request's path. If it does not answer within
``QUERY_TIMEOUT`` the last figures are served and ``offload_hub_database_up`` is 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from hub.models import OPEN_STATUSES
from hub.store.figures import Tally, failed_hand_backs, open_conversations, undelivered
from hub.telemetry.metrics import PREFIX

if TYPE_CHECKING:
    from hub.clock import Clock
    from hub.db import Database
    from hub.journal import Journal
    from hub.outbox import Dispatcher
    from hub.plugins import ProviderHost
    from hub.routing import Router

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
QUERY_TIMEOUT = 5.0
OUTBOX_KINDS = ("provider", "callback", "chatlayer")


@dataclass(frozen=True)
class DatabaseFigures:
    conversations: dict[tuple[str, str], Tally] = field(default_factory=dict)
    outbox: dict[tuple[str, str], Tally] = field(default_factory=dict)
    hand_backs: dict[str, int] = field(default_factory=dict)


class Figures:
    """The collector of one app's scrape-time figures (registered in its registry)."""

    def __init__(
        self,
        clock: Clock,
        *,
        database: Callable[[], Database | None],
        host: Callable[[], ProviderHost | None],
        router: Callable[[], Router | None],
        journal: Callable[[], Journal | None],
        dispatcher: Callable[[], Dispatcher | None],
    ) -> None:
        """Each callable returns its resource once the hub has built it (None before)."""
        self.clock = clock
        self._database_of = database
        self._host = host
        self._router = router
        self._journal = journal
        self._dispatcher = dispatcher
        self.database = DatabaseFigures()
        self.database_up = False
        self.cache_seconds = CACHE_SECONDS
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the database's figures again unless they are fresh (the scrape calls this)."""
        loop = asyncio.get_running_loop()
        async with self._lock:  # scrapes that come together share one read
            if self._read_at is not None and loop.time() - self._read_at < self.cache_seconds:
                return
            try:
                database = self._database_of()
                if database is None:
                    raise RuntimeError("the hub has not started")
                async with asyncio.timeout(QUERY_TIMEOUT):
                    async with database.read() as conn:
                        conversations = await open_conversations(conn=conn)
                        outbox = await undelivered(conn=conn)
                        hand_backs = await failed_hand_backs(conn=conn)
            except Exception as exc:
                if self.database_up or self._read_at is None:
                    log.warning("metrics: the database did not answer: %s", _describe(exc))
                self.database_up = False
            else:
                self.database = DatabaseFigures(conversations, outbox, hand_backs)
                self.database_up = True
            self._read_at = loop.time()

    def describe(self) -> Iterable[Metric]:
        return []  # the names vary with what is configured; nothing to check in advance

    def collect(self) -> Iterable[Metric]:
        return list(self._database()) + list(self._process())

    def _database(self) -> Iterator[Metric]:
        now = self.clock.now()
        up = GaugeMetricFamily(
            PREFIX + "database_up",
            "1 if the database answered the last read of these figures",
            value=int(self.database_up),
        )
        yield up
        figures = self.database
        queues = sorted({queue for queue, _ in figures.conversations} | set(self._queue_names()))
        length = GaugeMetricFamily(
            PREFIX + "queue_length",
            "Conversations waiting for an agent (status queued), by queue",
            labels=("queue",),
        )
        oldest = GaugeMetricFamily(
            PREFIX + "queue_oldest_wait_seconds",
            "How long the longest-waiting queued conversation has waited, by queue "
            "(0 when none waits)",
            labels=("queue",),
        )
        for queue in queues:
            tally = figures.conversations.get((queue, "queued"), Tally(0, None))
            length.add_metric((queue,), tally.count)
            oldest.add_metric((queue,), _age(now, tally.oldest))
        yield length
        yield oldest
        states = GaugeMetricFamily(
            PREFIX + "conversations",
            "Open conversations, by state (queued, assigned)",
            labels=("state",),
        )
        for state in OPEN_STATUSES:
            states.add_metric(
                (state,),
                sum(t.count for (_, status), t in figures.conversations.items() if status == state),
            )
        yield states
        backlog = GaugeMetricFamily(
            PREFIX + "outbox_backlog",
            "Outbox rows not delivered yet (including those waiting to be retried), by kind "
            "of target (provider, callback, chatlayer)",
            labels=("kind",),
        )
        backlog_age = GaugeMetricFamily(
            PREFIX + "outbox_oldest_pending_seconds",
            "Age of the oldest undelivered outbox row, by kind of target (0 when none)",
            labels=("kind",),
        )
        dead = GaugeMetricFamily(
            PREFIX + "outbox_dead_letters",
            "Outbox rows given up on (an admin can send them again), by kind of target",
            labels=("kind",),
        )
        kinds = sorted({kind for kind, _ in figures.outbox} | set(OUTBOX_KINDS))
        for kind in kinds:
            pending = figures.outbox.get((kind, "pending"), Tally(0, None))
            backlog.add_metric((kind,), pending.count)
            backlog_age.add_metric((kind,), _age(now, pending.oldest))
            dead.add_metric((kind,), figures.outbox.get((kind, "dead"), Tally(0, None)).count)
        yield backlog
        yield backlog_age
        yield dead
        hand_backs = GaugeMetricFamily(
            PREFIX + "chatlayer_hand_backs_failed",
            "Hand-backs to Chatlayer given up on: users left with a paused bot until an admin "
            "sends them again, by integration",
            labels=("integration",),
        )
        for integration, count in sorted(figures.hand_backs.items()):
            hand_backs.add_metric((integration,), count)
        yield hand_backs

    def _queue_names(self) -> list[str]:
        router = self._router()
        return [queue.name for queue in router.queues] if router is not None else []

    def _process(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            PREFIX + "provider_up",
            "1 if the provider instance is enabled, started and healthy (routing uses it)",
            labels=("provider", "type"),  # not "instance": Prometheus's label for the target
        )
        for instance in self._host() or ():
            up.add_metric((instance.name, instance.type), int(instance.usable))
        yield up
        journal = self._journal()
        if journal is not None:
            yield CounterMetricFamily(
                PREFIX + "journal_commits",
                "Journal transactions committed by this process",
                value=getattr(journal, "batches", 0),
            )
            yield CounterMetricFamily(
                PREFIX + "journal_units",
                "Units of work committed by this process's journal",
                value=getattr(journal, "units", 0),
            )
        dispatcher = self._dispatcher()
        if dispatcher is not None:
            yield GaugeMetricFamily(
                PREFIX + "outbox_in_flight",
                "Outbox rows this process holds in its delivery lanes now",
                value=dispatcher.pending,
            )
            settled = CounterMetricFamily(
                PREFIX + "outbox_deliveries",
                "Outbox delivery attempts by this process, by kind of target and outcome "
                "(done, retry, dead)",
                labels=("kind", "outcome"),
            )
            for (kind, outcome), count in sorted(dispatcher.settled.items()):
                settled.add_metric((kind, outcome), count)
            yield settled


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
