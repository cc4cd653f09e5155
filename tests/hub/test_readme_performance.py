"""The README's performance table is what ``make bench`` measured: it is made from the
results it keeps in ``bench/results/``, never written by hand."""

from __future__ import annotations

import json

from bench import report


def test_the_readmes_table_is_made_from_the_latest_results():
    text = report.README.read_text()
    shown = text.split(report.BEGIN, 1)[1].split(report.END, 1)[0]
    assert shown.strip() == report.table(report._load()).strip()


def test_each_target_is_judged_from_the_figure_beside_it():
    result = json.loads((report.RESULTS / "sqlite.json").read_text())
    rows = {figure: (value, target) for figure, value, target in report.rows(result)}
    p99 = result["offered"]["hub-stream@1000"]["p99Ms"]
    value, target = rows["p99 at 1,000 msg/s offered, WebSocket"]
    assert value == f"{p99:,.1f} ms"
    assert target.endswith("✓" if p99 <= 10 else "✗")
    storm = result["storm"]
    value, target = rows[f"reconnect storm: {storm['streams']:,} streams resumed after a restart"]
    assert value.startswith(f"{storm['secondsToAllResumed']:.2f} s")
    resumed_in_time = storm["secondsToAllResumed"] <= 5 and not any(storm["checks"].values())
    assert target.endswith("✓" if resumed_in_time else "✗")
