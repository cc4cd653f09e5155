"""The README's performance table, made from the latest results in ``bench/results/``.

``python -m bench.report`` rewrites the part of README.md between its
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` markers; ``make bench`` does it after
every run. Each figure stands beside its target (DESIGN section 9) and the baselines of the
same run.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DATABASES = ("sqlite", "postgresql")


def _load() -> dict[str, dict[str, Any]]:
    found = {}
    for name in DATABASES:
        path = RESULTS / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def _mean(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.fmean(values) if values else None


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} µs"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def relay_cpu(result: dict[str, Any], name: str) -> float | None:
    runs = result.get("relay", {}).get(name) or result.get("baselines", {}).get(name) or []
    return _mean(runs, "cpuMicrosPerMessage")


def relay_rate(result: dict[str, Any], name: str) -> float | None:
    runs = result.get("relay", {}).get(name) or result.get("baselines", {}).get(name) or []
    return _mean(runs, "messagesPerSecond")


def rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, this run's value, target and verdict) for one database's results."""
    out: list[tuple[str, str, str]] = []
    sio, bare_ws, bare_http = (
        relay_cpu(result, "socketio"),
        relay_cpu(result, "bare-ws"),
        relay_cpu(result, "bare-http"),
    )
    ingresses = {
        "hub-stream": "platform WebSocket",
        "hub-batch": "batch POST",
        "hub-post": "one POST per event",
        "hub-dashboard": "dashboard socket",
    }
    for key, label in ingresses.items():
        cpu, rate = relay_cpu(result, key), relay_rate(result, key)
        out.append((f"relay, {label}: CPU per message", f"{_us(cpu)} ({_rate(rate)})", ""))
    for key, label in (
        ("bare-ws", "bare aiohttp WebSocket relay"),
        ("bare-http", "bare aiohttp HTTP-in relay"),
        ("socketio", "python-socketio relay"),
    ):
        cpu, rate = relay_cpu(result, key), relay_rate(result, key)
        out.append((f"baseline: {label}", f"{_us(cpu)} ({_rate(rate)})", "same run"))
    fastest = min(
        (cpu for cpu in (relay_cpu(result, "hub-stream"), relay_cpu(result, "hub-batch")) if cpu),
        default=None,
    )
    if fastest and sio:
        ratio = fastest / sio
        out.append(
            (
                "fastest ingress ÷ python-socketio",
                f"{ratio:.2f}",
                f"≤ 0.40{_verdict(ratio <= 0.4)}",
            )
        )
    if fastest and bare_ws:
        ratio = fastest / bare_ws
        out.append(
            ("fastest ingress ÷ bare WebSocket", f"{ratio:.1f}x", f"≤ 3x{_verdict(ratio <= 3)}")
        )
    post = relay_cpu(result, "hub-post")
    if post and bare_http:
        ratio = post / bare_http
        out.append(
            ("one POST per event ÷ bare HTTP", f"{ratio:.1f}x", f"≤ 2x{_verdict(ratio <= 2)}")
        )
    offered = result.get("offered", {})
    for key, label in (("hub-stream@1000", "WebSocket"), ("hub-post@1000", "POST")):
        if key in offered:
            p99 = offered[key]["p99Ms"]
            out.append(
                (f"p99 at 1,000 msg/s offered, {label}", _ms(p99), f"≤ 10 ms{_verdict(p99 <= 10)}")
            )
    for key, label in (("hub-stream@100", "WebSocket"), ("hub-post@100", "POST")):
        if key in offered:
            cpu = offered[key]["cpuMicrosPerMessage"]
            out.append(
                (
                    f"CPU per message at 100 msg/s, {label}",
                    _us(cpu),
                    f"≤ 200 µs{_verdict(cpu <= 200)}",
                )
            )
    if "bare-ws@100" in offered:
        out.append(
            (
                "baseline: bare WebSocket CPU per message at 100 msg/s",
                _us(offered["bare-ws@100"]["cpuMicrosPerMessage"]),
                "same run",
            )
        )
    if "bare-ws@1000" in offered:
        out.append(
            (
                "baseline: bare WebSocket p99 at 1,000 msg/s",
                _ms(offered["bare-ws@1000"]["p99Ms"]),
                "same run",
            )
        )
    escalated = result.get("escalations")
    if escalated:
        rate, cpu = escalated["perSecond"], escalated["cpuMicrosPerEscalation"]
        target = "≥ 1,000/s, ≤ 1 ms CPU" if result["database"] == "sqlite" else "recorded"
        verdict = _verdict(rate >= 1000 and cpu <= 1000) if result["database"] == "sqlite" else ""
        out.append(
            (
                f"escalations, {escalated['transcriptItems']}-item transcript",
                f"{_rate(rate)}, {_us(cpu)} CPU each, p99 {_ms(escalated['p99Ms'])}",
                target + verdict,
            )
        )
    storm = result.get("storm")
    if storm:
        seconds = storm["secondsToAllResumed"]
        checks = storm["checks"]
        ok = seconds <= 5 and not any(checks.values())
        out.append(
            (
                f"reconnect storm: {storm['streams']:,} streams resumed after a restart",
                f"{seconds:.2f} s, {checks['lost']} lost, {checks['repeated']} repeated",
                f"≤ 5 s, none lost or repeated{_verdict(ok)}",
            )
        )
    memory = result.get("memory")
    if memory:
        hub, bare = memory["hub"][-1], memory["bare-aiohttp"][-1]
        per = hub["bytesPerStream"] / 1024
        out.append(
            (
                f"memory per idle stream at {hub['streams']:,} streams",
                f"{per:.1f} KB (bare aiohttp {bare['bytesPerStream'] / 1024:.1f} KB)",
                f"≤ 25 KB{_verdict(per <= 25)}",
            )
        )
    two = result.get("twoProcesses")
    if two:
        out.append(
            (
                "two processes (ingress on one, streams on the other): CPU per message, both",
                f"{_us(two['cpuMicrosPerMessage'])} ({_rate(two['messagesPerSecond'])})",
                "recorded",
            )
        )
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    if not results:
        return "No results yet: run `make bench`."
    first = next(iter(results.values()))
    machine = first["machine"]
    names = [name for name in DATABASES if name in results]
    header = "| figure | " + " | ".join(names) + " | target |"
    lines = [
        f"Measured {first['date'][:10]} on {machine['cpu']} ({machine['cores']} cores, "
        f"Python {machine['python']}), hub on one core, load client on the other; "
        f"`make bench` took {first.get('suiteSeconds', '?')} s"
        + (" (a quick run)" if first.get("quick") else "")
        + ". CPU per message is the server process's own CPU time over the messages it "
        "relayed (persisted, for the hub); the baselines persist nothing.",
        "",
        header,
        "|---|" + "---|" * len(names) + "---|",
    ]
    by_figure: dict[str, dict[str, tuple[str, str]]] = {}
    order: list[str] = []
    for name in names:
        for figure, value, target in rows(results[name]):
            if figure not in by_figure:
                by_figure[figure] = {}
                order.append(figure)
            by_figure[figure][name] = (value, target)
    for figure in order:
        cells = [by_figure[figure].get(name, ("-", ""))[0] for name in names]
        targets = [t for _, t in by_figure[figure].values() if t]
        target = (
            " / ".join(dict.fromkeys(targets))
            if len(set(targets)) > 1
            else (targets[0] if targets else "")
        )
        lines.append(f"| {figure} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def update_readme() -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    README.write_text(f"{before}{BEGIN}\n{table(_load())}\n{END}{after}")


if __name__ == "__main__":
    update_readme()
