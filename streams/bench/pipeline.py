"""End-to-end benchmark of one worker: ``make bench`` (``python -m streams.bench.pipeline``).

Phase 1 (throughput): the simulator pushes a backlog of the full network into Kafka at full
speed; a bare aiokafka consumer reads the same messages (the practical limit of one Python
process); a Faust app whose one agent takes the same batches as the worker and drops them
(:mod:`streams.bench.faust_ceiling`) drains them as its own consumer group (the framework
limit: what any Faust worker costs before its agents do anything); then one worker with every
agent and the database sink on drains them. All three rates are messages per second over the
same offsets; the two Faust rates run from the group's first offset commit to its last.

Phase 2 (latency): the simulator runs the national network at a steady load (``--load``
times real time) while probe reports are produced at known moments; the time until each
probe's ``fuel_forecast`` row is in the database is the produce-to-row latency.

Needs the local stack (``make bench`` starts it). Prints progress and a summary, and exits
non-zero when a target is missed (20,000 events/s, ratio 0.5).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import topics
from streams.config import Settings, get_settings
from streams.kafka_client import client_kwargs
from streams.kafka_offsets import commit_offsets, committed_offsets, end_offsets

TARGET_EVENTS_PER_SECOND = 20_000
TARGET_RATIO = 0.5
INPUTS = [spec.name for spec in topics.INPUT_TOPICS]
Offsets = dict[TopicPartition, int]


@dataclass(frozen=True)
class BenchResult:
    """What one run measured."""

    messages: int
    worker_rate: float
    faust_rate: float
    bare_rate: float
    latency_p50: float
    latency_p99: float
    peak_rss_mib: float

    @property
    def ratio(self) -> float:
        """Worker rate over the bare consumer's."""
        return self.worker_rate / self.bare_rate if self.bare_rate else 0.0


def _say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def _simulate(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "simulate", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def _bare_consumer_rate(settings: Settings, start: Offsets, end: Offsets) -> float:
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings), group_id=None, enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        wanted = {tp: off for tp, off in end.items() if off > start.get(tp, 0)}
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, start.get(tp, 0))
        count, began = 0, time.perf_counter()
        remaining = set(wanted)
        while remaining:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batches.items():
                count += len(records)
                if records and records[-1].offset + 1 >= wanted[tp]:
                    remaining.discard(tp)
        return count / (time.perf_counter() - began)
    finally:
        await consumer.stop()


def _start_worker(settings: Settings, group: str, state: Path) -> subprocess.Popen[bytes]:
    env = {"NEZLAM_APP_ID": group, "NEZLAM_STATE_DIR": str(state),
           "NEZLAM_WEB_PORT": str(settings.web_port + 100)}
    log = (state / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "warn"],
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


def _start_faust_ceiling(group: str, state: Path) -> subprocess.Popen[bytes]:
    env = {"NEZLAM_APP_ID": group, "NEZLAM_STATE_DIR": str(state)}
    log = (state / "faust-ceiling.log").open("ab")
    command = ["-m", "faust", "-A", "streams.bench.faust_ceiling", "worker", "-l", "warn"]
    return subprocess.Popen([sys.executable, *command], env={**os.environ, **env},
                            stdout=log, stderr=subprocess.STDOUT)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _drain_rate(
    settings: Settings, group: str, start: Offsets, end: Offsets, worker: subprocess.Popen[bytes],
    label: str = "worker",
) -> float:
    """Messages per second from the group's first commit to its last."""
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    first: tuple[float, int] | None = None
    while True:
        if worker.poll() is not None:
            raise click.ClickException(f"the {label} exited during the benchmark (see its log)")
        done = await committed_offsets(client_kwargs(settings), group, list(end))
        processed = sum(done[tp] - start.get(tp, 0) for tp in end)
        now = time.perf_counter()
        if first is None and processed > 0:
            first = (now, processed)
            _say(f"{label} started consuming")
        if first is not None:
            _say(f"{label}: {processed:,} / {total:,} messages")
        if processed >= total and first is not None:
            return (processed - first[1]) / max(now - first[0], 1e-9)
        await asyncio.sleep(1.0)


async def _latency(settings: Settings, probes: int) -> list[float]:
    """Produce-to-row latency of probe reports from a registered probe point."""
    point = f"BENCH-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(**client_kwargs(settings), acks="all")
    await producer.start()
    latencies: list[float] = []
    try:
        registry = {"point_id": point, "name": "bench probe", "kind": "permanent",
                    "oblast": "м. Київ", "hromada": "Київська міська громада", "lat": 50.45,
                    "lon": 30.52, "capacity_people": 100, "fuel_tank_l": 500.0}
        await producer.send_and_wait(topics.REGISTRY, orjson.dumps(registry), key=point.encode())
        async with await psycopg.AsyncConnection.connect(settings.admin_database_url,
                                                         autocommit=True) as conn:
            for i in range(probes):
                ts = datetime.now(UTC)
                report = {"point_id": point, "ts": ts.isoformat(), "status": "open",
                          "power": "generator", "generator_running": True,
                          "fuel_level_l": 400.0 - i * 0.2, "heating_on": True,
                          "internet_up": True, "indoor_temp_c": 19.0, "headcount": None}
                sent = time.perf_counter()
                await producer.send_and_wait(topics.TELEMETRY, orjson.dumps(report),
                                             key=point.encode())
                while time.perf_counter() - sent < 30:
                    row = await (await conn.execute(
                        "SELECT 1 FROM fuel_forecast WHERE point_id = %s AND ts = %s",
                        [point, ts])).fetchone()
                    if row:
                        latencies.append(time.perf_counter() - sent)
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)
    finally:
        await producer.stop()
    return latencies


async def _faust_ceiling_rate(
    settings: Settings, group: str, start: Offsets, end: Offsets
) -> float:
    """The no-op Faust agent's rate over the backlog, as its own consumer group."""
    await commit_offsets(client_kwargs(settings), group, {tp: start.get(tp, 0) for tp in end})
    _say("faust no-op agent (streams.bench.faust_ceiling) draining the backlog")
    with tempfile.TemporaryDirectory(prefix="nezlam-bench-faust-") as state:
        ceiling = _start_faust_ceiling(group, Path(state))
        try:
            return await _drain_rate(settings, group, start, end, ceiling,
                                     label="faust no-op agent")
        finally:
            ceiling.terminate()
            ceiling.wait()


async def run_benchmark(
    settings: Settings, minutes: int, probes: int, load: int
) -> BenchResult:
    """Both phases; see the module docstring."""
    group = f"nezlam-bench-{uuid.uuid4().hex[:8]}"
    start = await end_offsets(client_kwargs(settings), INPUTS)
    sim_start = datetime.now(UTC) - timedelta(days=2, minutes=minutes)
    _say(f"phase 1: simulating {minutes} min of the full network at full speed into Kafka")
    sim = _simulate("--speed", "max", "--duration", f"{minutes}m", "--start",
                    sim_start.isoformat(), "--seed", "99")
    if sim.wait() != 0:
        raise click.ClickException("the simulator failed")
    end = await end_offsets(client_kwargs(settings), INPUTS)
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    _say(f"{total:,} messages in the backlog; bare aiokafka consumer reading them")
    bare = await _bare_consumer_rate(settings, start, end)
    _say(f"bare consumer: {bare:,.0f} messages/s")
    faust_rate = await _faust_ceiling_rate(settings, f"{group}-faust", start, end)
    _say(f"faust no-op agent: {faust_rate:,.0f} messages/s (framework limit)")
    await commit_offsets(client_kwargs(settings), group, {tp: start.get(tp, 0) for tp in end})
    with tempfile.TemporaryDirectory(prefix="nezlam-bench-") as state:
        worker = _start_worker(settings, group, Path(state))
        try:
            rate = await _drain_rate(settings, group, start, end, worker)
            _say(f"worker: {rate:,.0f} messages/s; phase 2: latency at {load}x national load")
            steady = _simulate("--speed", str(load))
            try:
                latencies = await _latency(settings, probes)
            finally:
                steady.terminate()
                steady.wait()
            peak = _peak_rss_mib(worker.pid)
        finally:
            worker.terminate()
            worker.wait()
    latencies.sort()
    return BenchResult(
        messages=total,
        worker_rate=rate,
        faust_rate=faust_rate,
        bare_rate=bare,
        latency_p50=statistics.median(latencies) if latencies else float("nan"),
        latency_p99=latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        peak_rss_mib=peak,
    )


def report(result: BenchResult) -> tuple[str, bool]:
    """The summary table and whether every target was met."""
    ok_rate = result.worker_rate >= TARGET_EVENTS_PER_SECOND
    ok_ratio = result.ratio >= TARGET_RATIO
    lines = [
        f"messages in the backlog            {result.messages:>12,}",
        f"worker, all agents + sink          {result.worker_rate:>12,.0f} events/s  "
        f"(target {TARGET_EVENTS_PER_SECOND:,}: {'PASS' if ok_rate else 'FAIL'})",
        f"faust no-op agent (framework limit){result.faust_rate:>12,.0f} events/s",
        f"bare aiokafka consumer             {result.bare_rate:>12,.0f} events/s",
        f"ratio                              {result.ratio:>12.2f}  "
        f"(target {TARGET_RATIO}: {'PASS' if ok_ratio else 'FAIL'})",
        f"produce -> fuel_forecast row, p50  {result.latency_p50:>12.3f} s  (steady load)",
        f"produce -> fuel_forecast row, p99  {result.latency_p99:>12.3f} s",
        f"peak worker memory (VmHWM)         {result.peak_rss_mib:>12,.0f} MiB",
    ]
    return "\n".join(lines), ok_rate and ok_ratio


@click.command()
@click.option("--minutes", default=20, show_default=True,
              help="Simulated minutes of the full network in the backlog.")
@click.option("--probes", default=60, show_default=True, help="Latency probes.")
@click.option("--load", default=1, show_default=True,
              help="Steady load during the latency phase, in multiples of the national rate.")
def main(minutes: int, probes: int, load: int) -> None:
    """End-to-end throughput, latency and memory of one worker."""
    result = asyncio.run(run_benchmark(get_settings(), minutes, probes, load))
    text, ok = report(result)
    print(text)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
