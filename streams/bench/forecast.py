"""Forecast benchmark: the fuel forecaster against Prometheus ``predict_linear`` (1 h, 3 h).

Runs every method over the same synthetic traces (:mod:`streams.bench.fuel_traces`) and
scores hours to empty on the readings that matter for fuel logistics: the generator runs and
the true hours to empty are under 24. Forecasts are capped at 48 h before scoring (beyond
that the exact figure changes no decision). Reported per method: readings evaluated, mean and
90th-percentile absolute error in hours, and coverage, the share of those readings with a
forecast. The forecaster's throughput is timed over its update loop alone, in this process
(one core).

Targets: forecaster MAE at most half the better baseline's, coverage at least 95 %, and at
least 20,000 readings per second. The exit status is 1 when a target is missed, so that
``make bench-forecast`` can gate a build.

    python -m streams.bench.forecast [--seed N] [--traces N] [--days D] [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.bench.fuel_traces import FuelTrace, generate_traces
from streams.domain.fuel_forecast import FuelReading, FuelState, update
from streams.domain.predict_linear import PredictLinearWindow

FORECAST_CAP_H = 48.0
EVALUATE_BELOW_H = 24.0
TARGET_MAE_SHARE = 0.5
TARGET_COVERAGE = 0.95
TARGET_READINGS_PER_S = 20_000.0
FORECASTER = "forecaster"
BASELINE_WINDOWS_S = {"predict_linear 1h": 3600.0, "predict_linear 3h": 3 * 3600.0}


@dataclass(frozen=True, slots=True)
class MethodScore:
    """How one method did on the evaluated readings."""

    method: str
    evaluated: int
    forecasts: int
    mae_h: float
    p90_h: float

    @property
    def coverage(self) -> float:
        """Share of evaluated readings with a forecast."""
        return self.forecasts / self.evaluated if self.evaluated else 0.0


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Scores of every method, the forecaster's throughput and the verdict per target."""

    seed: int
    traces: int
    readings: int
    scores: tuple[MethodScore, ...]
    forecaster_seconds: float

    @property
    def readings_per_s(self) -> float:
        """Forecaster updates per second of its own loop."""
        return self.readings / self.forecaster_seconds if self.forecaster_seconds > 0 else 0.0

    def score(self, method: str) -> MethodScore:
        """The score of one method by name."""
        return next(s for s in self.scores if s.method == method)

    def checks(self) -> dict[str, bool]:
        """Each target and whether it is met."""
        best_baseline = min(self.score(name).mae_h for name in BASELINE_WINDOWS_S)
        ours = self.score(FORECASTER)
        return {
            f"MAE <= {TARGET_MAE_SHARE:g} x best baseline ({best_baseline:.2f} h)": ours.mae_h
            <= TARGET_MAE_SHARE * best_baseline,
            f"coverage >= {TARGET_COVERAGE:.0%}": ours.coverage >= TARGET_COVERAGE,
            f"throughput >= {TARGET_READINGS_PER_S:,.0f} readings/s": self.readings_per_s
            >= TARGET_READINGS_PER_S,
        }


class _Errors:
    """Absolute errors of one method on the evaluated readings."""

    def __init__(self) -> None:
        self.evaluated = 0
        self.errors: list[float] = []

    def add(self, predicted: float | None, truth: float) -> None:
        self.evaluated += 1
        if predicted is not None:
            self.errors.append(abs(min(predicted, FORECAST_CAP_H) - truth))

    def score(self, method: str) -> MethodScore:
        errors = sorted(self.errors)
        if not errors:
            return MethodScore(method, self.evaluated, 0, math.nan, math.nan)
        p90 = errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)]
        return MethodScore(method, self.evaluated, len(errors), sum(errors) / len(errors), p90)


def evaluated_indices(trace: FuelTrace) -> list[int]:
    """Readings scored: the generator runs and the true hours to empty are under 24."""
    return [
        i
        for i, hours in enumerate(trace.true_hours_to_empty)
        if hours is not None and hours < EVALUATE_BELOW_H
    ]


def run_forecaster(trace: FuelTrace) -> tuple[list[float | None], float]:
    """Hours to empty after every reading, and the seconds spent in the update loop."""
    tank = trace.tank_l
    state: FuelState | None = None
    hours: list[float | None] = []
    started = time.perf_counter()
    for ts, level, running in zip(trace.ts, trace.level_reading, trace.running, strict=True):
        state, forecast = update(state, FuelReading(ts, level, running), tank)
        hours.append(forecast.hours_to_empty)
    return hours, time.perf_counter() - started


def run_baseline(trace: FuelTrace, window_s: float, wanted: Sequence[int]) -> list[float | None]:
    """``predict_linear`` hours to empty at the ``wanted`` readings (ascending indices)."""
    window = PredictLinearWindow(window_s)
    out: list[float | None] = []
    next_wanted = iter(wanted)
    target = next(next_wanted, -1)
    for i, (ts, level) in enumerate(zip(trace.ts, trace.level_reading, strict=True)):
        if level is not None:
            window.add(ts, level)
        if i == target:
            out.append(window.hours_to_empty(ts))
            target = next(next_wanted, -1)
    return out


def run_benchmark(
    seed: int, traces: int, days: float, progress: Callable[[str], None] | None = None
) -> BenchResult:
    """Score the forecaster and the baselines over ``traces`` generated traces."""
    errors = {name: _Errors() for name in (FORECASTER, *BASELINE_WINDOWS_S)}
    readings = 0
    seconds = 0.0
    step = max(1, traces // 10)
    for done, trace in enumerate(generate_traces(seed, traces, days), start=1):
        wanted = evaluated_indices(trace)
        truth = [trace.true_hours_to_empty[i] or 0.0 for i in wanted]
        hours, spent = run_forecaster(trace)
        readings += len(hours)
        seconds += spent
        for i, true_h in zip(wanted, truth, strict=True):
            errors[FORECASTER].add(hours[i], true_h)
        for name, window_s in BASELINE_WINDOWS_S.items():
            predicted = run_baseline(trace, window_s, wanted)
            for guess, true_h in zip(predicted, truth, strict=True):
                errors[name].add(guess, true_h)
        if progress is not None and (done % step == 0 or done == traces):
            progress(f"  {done}/{traces} traces, {readings:,} readings")
    scores = tuple(acc.score(name) for name, acc in errors.items())
    return BenchResult(seed, traces, readings, scores, seconds)


def format_report(result: BenchResult) -> str:
    """The table and the verdicts, as printed by :func:`main`."""
    lines = [
        f"{'method':<20} {'evaluated':>10} {'MAE h':>8} {'p90 h':>8} {'coverage':>9}",
    ]
    for s in result.scores:
        lines.append(
            f"{s.method:<20} {s.evaluated:>10,} {s.mae_h:>8.2f} {s.p90_h:>8.2f} {s.coverage:>8.1%}"
        )
    lines.append(
        f"forecaster throughput: {result.readings_per_s:,.0f} readings/s "
        f"({result.readings:,} readings in {result.forecaster_seconds:.1f} s, one core)"
    )
    for label, ok in result.checks().items():
        lines.append(f"{'PASS' if ok else 'FAIL'}  {label}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report; exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench.forecast", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=7, help="trace seed (default 7)")
    parser.add_argument("--traces", type=int, default=None, help="generators (default 300)")
    parser.add_argument("--days", type=float, default=None, help="days per trace (default 3)")
    parser.add_argument("--quick", action="store_true", help="12 traces of 1 day: a smoke run")
    args = parser.parse_args(argv)
    traces = args.traces or (12 if args.quick else 300)
    days = args.days or (1.0 if args.quick else 3.0)
    print(f"fuel forecast benchmark: seed {args.seed}, {traces} traces x {days:g} days")
    started = time.perf_counter()
    result = run_benchmark(args.seed, traces, days, progress=print)
    print(format_report(result))
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0 if all(result.checks().values()) else 1


if __name__ == "__main__":
    sys.exit(main())
