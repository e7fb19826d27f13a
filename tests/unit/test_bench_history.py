"""The read-side benchmark's query catalogue and report (the load itself is a benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from streams.bench.history import render
from streams.bench.history_data import outages
from streams.bench.read_queries import analyst_queries, panel_queries, panel_targets

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)


def _options(sql: str) -> Sequence[Sequence[object]]:
    """What the variables' queries would find: two oblasts, points p1 and p2."""
    return [("p1", "Point 1"), ("p2", "Point 2")] if "__value" in sql else [("A",), ("B",)]


def test_every_panel_target_is_timed_with_nothing_left_unexpanded() -> None:
    queries = panel_queries(_options, NOW, timedelta(days=7))
    assert {(q.group, q.name) for q in queries} == {
        (t.dashboard.uid, t.name) for t in panel_targets()
    }
    assert all("$" not in q.sql for q in queries)


def test_time_panels_run_at_6h_24h_7d_and_30d_only_with_30_days_of_history() -> None:
    week = {q.range_label for q in panel_queries(_options, NOW, timedelta(days=7))}
    month = {q.range_label for q in panel_queries(_options, NOW, timedelta(days=30))}
    assert {"6h", "24h", "7d", "now", "panel 14d"} == week
    assert month == week | {"30d"}


def test_the_ten_analyst_queries_are_read_from_the_document() -> None:
    assert [q.name.split(".")[0] for q in analyst_queries()] == [str(n) for n in range(1, 11)]


def test_an_oblasts_blackouts_never_overlap() -> None:
    found = outages(["A", "B"], NOW - timedelta(days=30), NOW, seed=3)
    assert found
    for oblast in ("A", "B"):
        mine = sorted((o for o in found if o.oblast == oblast), key=lambda o: o.starts)
        assert all(a.ends < b.starts for a, b in pairwise(mine))


def test_the_report_has_a_line_per_query_and_the_size_per_day() -> None:
    report = {
        "points": 13464, "mode": "postgres", "days": 2.0, "runs": 3, "refresh_s": 1.0,
        "timings": [
            {"group": "g", "name": "q", "range": "6h", "median_ms": 1500.0, "worst_ms": 1600.0,
             "runs": 3, "rows": 7, "top_node": "Sort", "reads": ["telemetry"], "error": None},
        ],
        "sizes": [{"table": "telemetry", "rows": 10, "bytes": 4_000_000_000}],
        "policies": [],
    }
    text = render(report)
    assert "1.50s" in text and "Sort [telemetry]" in text
    assert "4.00GB" in text and "2.00GB" in text
