"""``nezlam bench history`` end to end on plain PostgreSQL, at a reduced volume, in a throwaway
database: the load into daily partitions, the rebuild and refreshes after it, and every panel
and analyst query timed without an error. The national-scale run is a benchmark (make
bench-history), not a test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from streams.bench.history import history
from tests.integration.scratch_db import scratch_postgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path = tmp_path_factory.mktemp("bench") / "history.json"
    with scratch_postgres() as dsn:
        result = CliRunner().invoke(history, ["--dsn", dsn, "--points", "40", "--days", "1.5",
                                              "--runs", "1", "--json", str(path)])
        assert result.exit_code == 0, result.output + repr(result.exception)
        yield json.loads(Path(path).read_text(encoding="utf-8"))


def test_every_panel_and_analyst_query_is_timed_without_an_error(report: dict[str, Any]) -> None:
    assert report["mode"] == "postgres" and report["points"] == 40
    failed = [(t["name"], t["range"], t["error"]) for t in report["timings"] if t["error"]]
    assert failed == []
    groups = {t["group"] for t in report["timings"]}
    assert "analysts" in groups and len(groups) > 1
    assert sum(1 for t in report["timings"] if t["group"] == "analysts") == 10


def test_the_history_lands_in_its_days_partitions(report: dict[str, Any]) -> None:
    sizes = {s["table"]: s for s in report["sizes"]}
    for table in ("telemetry", "fuel_forecast", "occupancy"):
        assert sizes[table]["rows"] > 0, table
    reads = {r for t in report["timings"] for r in t["reads"]}
    # The plans read the daily partitions (telemetry_pYYYYMMDD) the load created.
    assert any(r.startswith(("telemetry_p", "occupancy_p")) for r in reads), reads
