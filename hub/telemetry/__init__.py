"""Observability: Prometheus metrics at ``/metrics``, request ids, and structured logs.

- :mod:`hub.telemetry.setup`: wires it all into an app (the app factory calls ``install``);
- :mod:`hub.telemetry.metrics`: one process's metrics, and the calls the write-and-relay
  path makes (``journal_batch``, ``relay_latency``);
- :mod:`hub.telemetry.requests`: request ids, durations by route, open streams;
- :mod:`hub.telemetry.figures`: what is read when Prometheus scrapes;
- :mod:`hub.telemetry.waits`: how long conversations waited for their agent;
- :mod:`hub.telemetry.context` and :mod:`hub.telemetry.logs`: the ids on log lines, and
  the JSON or text lines themselves.

This package imports nothing itself, so any module of the hub can import its parts.
"""
