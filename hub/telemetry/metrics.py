"""The metrics of one hub process, in its own registry, served at ``/metrics``.

Every app gets its own :class:`HubMetrics` (``app[keys.METRICS]``), so tests can build
many apps in one process. What it holds:

- counted where it happens, in this process: request durations by route
  (:mod:`hub.telemetry.requests`), streams by client and transport (the same middleware),
  how long conversations waited for their agent (:mod:`hub.telemetry.waits`), and what the
  write-and-relay path reports through the calls below;
- read when Prometheus scrapes (:mod:`hub.telemetry.figures`): queue lengths, open
  conversations by state, the outbox's backlog and dead letters (from the database, at
  most once per few seconds), provider health, the journal's and the outbox's counters.

The histograms counted on hot paths (request durations, relay latency, batch sizes) are
:class:`Distribution` objects: no lock, no label lookup, a few hundred nanoseconds an
observation; they are only touched from the event loop's thread, as everything in the
hub runs. Calls for the write-and-relay path::

    metrics = app[keys.METRICS]

    # hub/journal.py, after each batch commits: how many units and envelopes it held
    metrics.journal_batch(units=len(jobs), envelopes=len(batch.envelopes))

    # hub/api/events.py (or hub/streams.py), when envelopes go out on a stream: seconds
    # from their commit to this send (stamp time.monotonic() at commit in the journal; for
    # envelopes another process committed, the wall clock against that process's commit
    # time, or leave them out); ``count`` envelopes sent together count once each;
    # transport: "websocket", "sse", "long-poll" (also "callback" or "dashboard" if those
    # paths measure it)
    metrics.relay_latency(time.monotonic() - committed_at, count=len(envelopes),
                          transport="websocket")

A journal built without an app (a bench, a test) can take ``HubMetrics()`` of its own.
Streams need no call: the request middleware counts every WebSocket, SSE stream and
waiting long-poll while its handler runs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.metrics_core import HistogramMetricFamily, Metric

from hub import __version__

PREFIX = "offload_hub_"
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RELAY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
WAIT_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Distribution:
    """A histogram for the hot path: no lock, and a count per observation (a batch of
    envelopes sent at once is ``count`` observations of one latency). One thread only."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(bound) for bound in bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float, count: int = 1) -> None:
        self.counts[bisect_left(self.bounds, value)] += count
        self.total += value * count

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative buckets as Prometheus wants them, ``+Inf`` last."""
        cumulative: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return cumulative


class _Distributions:
    """Exposes the :class:`Distribution` histograms of a :class:`HubMetrics` at scrape."""

    def __init__(self, metrics: HubMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        metrics = self.metrics
        for name, documentation, distribution in (
            (
                "journal_batch_units",
                "Units of work committed together in one journal transaction",
                metrics.batch_units,
            ),
            (
                "journal_batch_envelopes",
                "Envelopes written by one journal transaction",
                metrics.batch_envelopes,
            ),
        ):
            family = HistogramMetricFamily(PREFIX + name, documentation, labels=())
            family.add_metric((), distribution.buckets(), distribution.total)
            yield family
        relay = HistogramMetricFamily(
            PREFIX + "relay_latency_seconds",
            "Seconds from an envelope's commit to its send on a stream, by transport",
            labels=("transport",),
        )
        for transport, distribution in sorted(metrics.relay.items()):
            relay.add_metric((transport,), distribution.buckets(), distribution.total)
        yield relay
        requests = HistogramMetricFamily(
            PREFIX + "request_duration_seconds",
            "Seconds to answer an HTTP request, by method, route pattern and status "
            "(streams are not counted here: see offload_hub_streams)",
            labels=("method", "route", "status"),
        )
        for (method, route, status), distribution in sorted(metrics.requests.items()):
            requests.add_metric(
                (method, route, str(status)), distribution.buckets(), distribution.total
            )
        yield requests


class HubMetrics:
    """One process's metrics and the registry ``/metrics`` serves."""

    def __init__(self) -> None:
        # No "<name>_created" series beside every counter and histogram (process-wide).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client: unannotated
        registry = self.registry = CollectorRegistry()
        self.requests: dict[tuple[str, str, int], Distribution] = {}
        self.streams = Gauge(
            PREFIX + "streams",
            "Streams open in this process now, by client (chatbot, agent, provider) and "
            "transport (websocket, sse, long-poll)",
            ("client", "transport"),
            registry=registry,
        )
        self.streams_opened = Counter(
            PREFIX + "streams_opened",
            "Streams opened in this process, by client and transport",
            ("client", "transport"),
            registry=registry,
        )
        self.queue_waits = Histogram(
            PREFIX + "queue_wait_seconds",
            "Seconds a conversation waited, from its escalation to its first agent, by queue "
            "(counted by the process that recorded the assignment)",
            ("queue",),
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.scheduled_runs_skipped = Counter(
            PREFIX + "scheduled_runs_skipped",
            "Runs of a scheduled job skipped because its last run was still going (or the "
            "event loop was too busy to start it in time), by job",
            ("job",),
            registry=registry,
        )
        self.batch_units = Distribution(BATCH_BUCKETS)
        self.batch_envelopes = Distribution(BATCH_BUCKETS)
        self.relay: dict[str, Distribution] = {}
        registry.register(_Distributions(self))
        Info(PREFIX + "build", "The running offload-hub", registry=registry).info(
            {"version": __version__}
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

    # -- the write-and-relay path's calls (see the module's docstring) -------------------

    def journal_batch(self, units: int, envelopes: int) -> None:
        """A journal transaction committed ``units`` units of work and ``envelopes``."""
        self.batch_units.observe(units)
        self.batch_envelopes.observe(envelopes)

    def relay_latency(self, seconds: float, count: int = 1, transport: str = "websocket") -> None:
        """``count`` envelopes went out on a ``transport`` stream ``seconds`` after commit."""
        distribution = self.relay.get(transport)
        if distribution is None:
            distribution = self.relay[transport] = Distribution(RELAY_BUCKETS)
        distribution.observe(seconds, count)

    # -- the hub's own -------------------------------------------------------------------

    def run_skipped(self, job: str) -> None:
        """The scheduler skipped a run of ``job`` (hub/lifecycle/scheduler.py)."""
        self.scheduled_runs_skipped.labels(job=job).inc()

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        distribution = self.requests.get(key)
        if distribution is None:
            distribution = self.requests[key] = Distribution(REQUEST_BUCKETS)
        distribution.observe(seconds)
