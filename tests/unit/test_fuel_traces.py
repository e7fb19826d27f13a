"""Synthetic fuel traces (deterministic, with every phenomenon) and the benchmark on them."""

from __future__ import annotations

import itertools
import math

import pytest

from streams.bench.forecast import (
    BASELINE_WINDOWS_S,
    FORECASTER,
    BenchResult,
    format_report,
    main,
    run_benchmark,
)
from streams.bench.fuel_traces import FuelTrace, generate_trace, generate_traces


@pytest.fixture(scope="module")
def traces() -> list[FuelTrace]:
    return list(generate_traces(seed=3, count=24, days=3.0))


def test_the_same_seed_gives_the_same_trace() -> None:
    assert generate_trace(5, 2, days=0.5) == generate_trace(5, 2, days=0.5)
    assert generate_trace(5, 2, days=0.5) != generate_trace(6, 2, days=0.5)


def test_a_trace_is_consistent(traces: list[FuelTrace]) -> None:
    for trace in traces:
        n = len(trace.ts)
        columns = (trace.level_reading, trace.running, trace.true_level, trace.true_rate_lph)
        assert all(len(column) == n for column in columns)
        assert all(b > a for a, b in itertools.pairwise(trace.ts))
        assert 60.0 <= trace.tank_l <= 1000.0
        for level, rate, running, hours in zip(
            trace.true_level,
            trace.true_rate_lph,
            trace.running,
            trace.true_hours_to_empty,
            strict=True,
        ):
            assert 0.0 <= level <= trace.tank_l and rate > 0.0
            # ground truth: running hours left at the current true burn rate, only while on
            assert hours == (level / rate if running else None)


def test_traces_hold_every_phenomenon(traces: list[FuelTrace]) -> None:
    def spikes(t: FuelTrace) -> int:
        return sum(
            1
            for r, true in zip(t.level_reading, t.true_level, strict=True)
            if r is not None and abs(r - true) > 0.2 * t.tank_l
        )

    def longest_repeat(t: FuelTrace) -> int:
        runs = (len(list(g)) for v, g in itertools.groupby(t.level_reading) if v is not None)
        return max(runs, default=0)

    def switches(t: FuelTrace) -> int:
        return sum(a != b for a, b in itertools.pairwise(t.running))

    def swing(t: FuelTrace) -> float:
        return max(t.true_rate_lph) / min(t.true_rate_lph)

    assert sum(t.refuels for t in traces) > len(traces)
    assert any(r is None for t in traces for r in t.level_reading)
    assert sum(spikes(t) for t in traces) > 50
    assert any(t.params.stuck and longest_repeat(t) > 60 for t in traces)
    assert all(switches(t) >= 1 for t in traces if not t.params.mostly_running)
    assert min(swing(t) for t in traces) > 1.15  # load varies over the day
    assert any(t.params.quantum_l > 0.0 for t in traces)
    assert any(0.0 in t.true_level for t in traces)  # a late truck: the tank ran dry


def test_a_quick_benchmark_returns_its_metrics() -> None:
    result = run_benchmark(seed=1, traces=3, days=0.5)
    assert isinstance(result, BenchResult)
    assert {s.method for s in result.scores} == {FORECASTER, *BASELINE_WINDOWS_S}
    assert result.readings > 0 and result.forecaster_seconds > 0.0
    for score in result.scores:
        assert score.evaluated > 0
        assert 0.0 <= score.coverage <= 1.0
        assert math.isfinite(score.mae_h) and score.p90_h >= 0.0
    assert len(result.checks()) == 3
    assert "forecaster throughput" in format_report(result)


def test_the_command_line_runs_quick(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--traces", "2"]) in (0, 1)
    out = capsys.readouterr().out
    assert "predict_linear 3h" in out and ("PASS" in out or "FAIL" in out)
