"""The benchmark's figures: CPU per event, ratios, targets, the summary and its JSON."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time

from streams.bench.in_process import InProcessCost, measure
from streams.bench.process_cost import Drain, cpu_seconds, peak_rss_mib
from streams.bench.worker_throughput import BenchResult, Latency, ScaleOut, checks, report
from streams.config import Settings


def _result(worker_rate: float = 5_000.0, p99: float = 0.5, peak: float = 300.0) -> BenchResult:
    noop = Drain(events=100_000, seconds=10.0, cpu_seconds=5.0)  # 10,000/s, 50 CPU-ms/1000
    worker = Drain(events=100_000, seconds=100_000 / worker_rate, cpu_seconds=8.0)
    pair = ScaleOut(Drain(100_000, 8.0, 16.0), {"a": ["points.telemetry/0"],
                                               "b": ["points.telemetry/1"]}, {"a": 60, "b": 40})
    return BenchResult(100_000, 500_000.0, noop, worker, 90.0, peak,
                       [Latency(1, [0.1, 0.2, p99]), Latency(5, [0.3, 0.4, 0.9])], pair,
                       InProcessCost(100_000, 10.0, 40.0))


def test_cpu_per_event_and_ratios() -> None:
    result = _result(worker_rate=5_000.0)
    assert result.worker.cpu_ms_per_1000 == 80.0
    assert result.noop.cpu_ms_per_1000 == 50.0
    assert result.worker.rate_per_core == 12_500.0
    assert result.rate_ratio == 0.5
    assert result.cpu_ratio == 50.0 / 80.0
    idle = Drain(events=100_000, seconds=20.0, cpu_seconds=8.0, idle_cpu_per_second=0.1)
    assert idle.cpu_ms_per_1000 == 80.0
    assert idle.net_cpu_ms_per_1000 == 60.0  # 2 of the 8 CPU seconds were the idle cost


def test_every_target_is_checked_and_a_miss_fails_the_run() -> None:
    assert not all(ok for _, ok in checks(_result(worker_rate=5_000.0)))  # 0.5x < 0.65x
    assert all(ok for _, ok in checks(_result(worker_rate=7_000.0)))
    assert not all(ok for _, ok in checks(_result(worker_rate=7_000.0, p99=1.5)))
    assert not all(ok for _, ok in checks(_result(worker_rate=7_000.0, peak=500.0)))
    text, ok = report(_result(worker_rate=7_000.0))
    assert ok and "FAIL" not in text


def test_latency_quantiles() -> None:
    lat = Latency(1, [float(i) for i in range(1, 101)])
    assert lat.p50 == 50.5
    assert lat.p99 == 99.0
    assert math.isnan(Latency(1, []).p99)


def test_summary_names_the_partition_split_and_json_has_every_figure() -> None:
    result = _result()
    text, _ = report(result)
    assert "a: 60 events, partitions 0 of 1 topics" in text
    data = json.loads(json.dumps(result.to_json()))
    assert data["worker"]["cpu_ms_per_1000"] == 80.0
    assert data["ratio_by_rate"] == result.rate_ratio
    assert [lat["load"] for lat in data["latency"]] == [1, 5]
    assert data["scale_out"]["events"] == {"a": 60, "b": 40}
    assert data["in_process"]["total_ms_per_1000"] == 50.0
    assert "validation 10.0 + computations and checkpoints 40.0" in text
    assert set(data["targets"]) == {name for name, _ in checks(result)}


def test_process_cost_reads_this_process() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.monotonic() + 5
    # The kernel counts CPU time in ticks (10 ms): work until one has passed, or give up.
    while cpu_seconds(os.getpid()) == before and time.monotonic() < deadline:
        sum(i * i for i in range(200_000))
    assert cpu_seconds(os.getpid()) > before
    assert peak_rss_mib(os.getpid()) > 1.0


def test_the_worker_code_in_process_validates_and_computes_the_simulated_network() -> None:
    cost = asyncio.run(measure(Settings(), minutes=0.5, seed=1, start=time.time() - 3600))
    assert cost.events > 13_464  # the registry, then half a minute of reports and visits
    assert cost.validation_ms_per_1000 > 0 and cost.computations_ms_per_1000 > 0
