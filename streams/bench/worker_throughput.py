"""End-to-end benchmark of the worker against Faust itself: ``make bench``
(``python -m streams.bench.worker_throughput``).

1. **Backlog.** The simulator pushes ``--minutes`` of the full network into Kafka at full speed.
   The worker's own code validates and computes the same backlog in this process, without
   Kafka, the database or Faust (:mod:`streams.bench.in_process`): the floor of its cost.
2. **Bare aiokafka consumer** reads it (the practical limit of one Python process).
3. **Faust no-op agent** (:mod:`streams.bench.faust_ceiling`: same inputs, same batches as the
   worker, drops them) drains it as its own consumer group: what any Faust worker costs
   before its agents do anything.
4. **Worker** (every agent and the database sink) drains the same offsets as its own group.
5. **Scale-out** (run between 3 and 4, before the latency phase adds live messages): two
   workers in one new group drain the same offsets; their combined rate and which input
   partitions each one held.
6. **Latency**: with the worker caught up, the simulator runs the national network at each
   ``--loads`` multiple of real time while probe reports are produced at known moments; the
   time until each probe's ``fuel_forecast`` row is in the database is produce-to-row latency.
   Probing starts :data:`WARMUP_SECONDS` after the simulator: it first publishes all 13,464
   registry entries at once, a burst that is not the national rate (it delays one report by
   about 1.5 s, which would be the p99 of 60 probes).

Rates run from a group's first offset commit to its last (startup is not counted). CPU is the
measured process's own user + system time over the same interval
(:mod:`streams.bench.process_cost`): CPU-milliseconds per 1,000 events is the stable figure on
a shared machine, and the one docs/operations.md sizes from. Every group, state directory and
changelog topic is the run's own (``nezlam-bench-<id>``); the changelog topics are deleted at
the end. Needs the local stack (``make bench`` starts it). Prints progress and a summary,
writes JSON with ``--json``, and exits non-zero when a target is missed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from streams.bench import in_process
from streams.bench.in_process import InProcessCost
from streams.bench.process_cost import Drain, cpu_seconds, peak_rss_mib
from streams.config import Settings, get_settings
from streams.kafka import topics
from streams.kafka.client import client_kwargs
from streams.kafka.offsets import commit_offsets, committed_offsets, end_offsets

# Targets (issue 12): the worker against the no-op agent measured in the same run, ten times the
# national rate on one worker, latency at the national rate, memory.
TARGET_RATIO = 0.65
TARGET_EVENTS_PER_SECOND = 4_500
TARGET_P99_SECONDS = 1.0
TARGET_PEAK_MIB = 400.0
INPUTS = [spec.name for spec in topics.INPUT_TOPICS]
IDLE_SECONDS = 15.0  # the worker's CPU with no input, after the drain
SEED = 99  # of the simulated backlog
WARMUP_SECONDS = 10.0  # the simulator's registry burst is read before the probes start
STALL_SECONDS = 180.0  # no committed progress for this long: the run is stuck, stop it
Offsets = dict[TopicPartition, int]


@dataclass(frozen=True)
class Latency:
    """Produce-to-row latency of the probes at one steady load."""

    load: int
    samples: list[float]

    def quantile(self, q: float) -> float:
        """The ``q`` quantile by nearest rank (never below the share ``q``), NaN without
        samples."""
        ordered = sorted(self.samples)
        return ordered[max(math.ceil(q * len(ordered)) - 1, 0)] if ordered else float("nan")

    @property
    def p50(self) -> float:
        """Median seconds."""
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p99(self) -> float:
        """99th percentile seconds."""
        return self.quantile(0.99)


@dataclass(frozen=True)
class ScaleOut:
    """Two workers in one group on the same backlog."""

    drain: Drain
    partitions: dict[str, list[str]]  # member -> input partitions it held, "topic/partition"
    events: dict[str, int]  # member -> backlog events in its partitions


@dataclass(frozen=True)
class BenchResult:
    """What one run measured."""

    messages: int
    bare_rate: float
    noop: Drain
    worker: Drain
    noop_peak_mib: float
    worker_peak_mib: float
    latencies: list[Latency] = field(default_factory=list)
    scale_out: ScaleOut | None = None
    in_process: InProcessCost | None = None

    @property
    def rate_ratio(self) -> float:
        """Worker rate over the no-op agent's, same backlog, same run."""
        return self.worker.rate / self.noop.rate if self.noop.rate else 0.0

    @property
    def cpu_ratio(self) -> float:
        """No-op CPU per event over the worker's: the rate ratio with the neighbours' noise
        removed (1.0 would be a worker that costs no more than Faust itself)."""
        return self.noop.cpu_ms_per_1000 / self.worker.cpu_ms_per_1000

    def latency_at(self, load: int) -> Latency | None:
        """The latency measured at ``load`` times the national rate, if it was."""
        return next((lat for lat in self.latencies if lat.load == load), None)

    def to_json(self) -> dict[str, Any]:
        """Every figure, derived ones included, for machines."""

        def drain(d: Drain) -> dict[str, float]:
            return {**asdict(d), "rate": d.rate, "cpu_ms_per_1000": d.cpu_ms_per_1000,
                    "net_cpu_ms_per_1000": d.net_cpu_ms_per_1000,
                    "rate_per_core": d.rate_per_core}

        return {
            "messages": self.messages,
            "bare_consumer_rate": self.bare_rate,
            "noop": {**drain(self.noop), "peak_mib": self.noop_peak_mib},
            "worker": {**drain(self.worker), "peak_mib": self.worker_peak_mib},
            "ratio_by_rate": self.rate_ratio,
            "ratio_by_cpu": self.cpu_ratio,
            "latency": [{"load": lat.load, "p50": lat.p50, "p99": lat.p99,
                         "probes": len(lat.samples), "samples": lat.samples}
                        for lat in self.latencies],
            "scale_out": None if self.scale_out is None else {
                **drain(self.scale_out.drain),
                "partitions": self.scale_out.partitions, "events": self.scale_out.events},
            "in_process": None if self.in_process is None else {
                **asdict(self.in_process), "total_ms_per_1000": self.in_process.total_ms_per_1000},
            "targets": {name: ok for name, ok in checks(self)},
        }


def checks(result: BenchResult) -> list[tuple[str, bool]]:
    """Each target and whether this run met it."""
    national = result.latency_at(1)
    return [
        (f"worker >= {TARGET_RATIO}x the no-op rate", result.rate_ratio >= TARGET_RATIO),
        (f"worker >= {TARGET_EVENTS_PER_SECOND:,} events/s",
         result.worker.rate >= TARGET_EVENTS_PER_SECOND),
        (f"p99 produce-to-row <= {TARGET_P99_SECONDS} s at 1x",
         national is not None and national.p99 <= TARGET_P99_SECONDS),
        (f"peak worker memory <= {TARGET_PEAK_MIB:.0f} MiB",
         result.worker_peak_mib <= TARGET_PEAK_MIB),
    ]


def report(result: BenchResult) -> tuple[str, bool]:
    """The summary table and whether every target was met."""
    w, n = result.worker, result.noop
    lines = [
        f"messages in the backlog              {result.messages:>10,}",
        "                                       events/s   CPU-ms/1000 ev   events/CPU-s",
        f"worker, every agent + sink           {w.rate:>10,.0f}   {w.cpu_ms_per_1000:>14.1f}"
        f"   {w.rate_per_core:>12,.0f}",
        f"faust no-op agent (framework cost)   {n.rate:>10,.0f}   {n.cpu_ms_per_1000:>14.1f}"
        f"   {n.rate_per_core:>12,.0f}",
        f"  worker with no input: {1000 * w.idle_cpu_per_second:,.0f} CPU-ms/s; per 1,000 events "
        f"without it: {w.net_cpu_ms_per_1000:.1f}",
        f"bare aiokafka consumer               {result.bare_rate:>10,.0f}",
        *_in_process_lines(result.in_process),
        f"worker / no-op                       {result.rate_ratio:>10.2f}   "
        f"{result.cpu_ratio:>14.2f}   (by rate; by CPU per event)",
    ]
    for lat in result.latencies:
        lines.append(f"produce -> row at {lat.load}x national    p50 {lat.p50:>6.3f} s"
                     f"   p99 {lat.p99:>6.3f} s   ({len(lat.samples)} probes)")
    lines.append(f"peak memory (VmHWM)                  worker {result.worker_peak_mib:,.0f} MiB"
                 f"   no-op {result.noop_peak_mib:,.0f} MiB")
    if result.scale_out is not None:
        s = result.scale_out
        lines.append(f"two workers, one group               {s.drain.rate:>10,.0f}   "
                     f"{s.drain.cpu_ms_per_1000:>14.1f}   (combined)")
        for member, parts in sorted(s.partitions.items()):
            lines.append(f"  {member}: {s.events.get(member, 0):,} events, "
                         f"{_partition_list(parts)}")
    met = checks(result)
    lines += [f"target: {name:<42} {'PASS' if ok else 'FAIL'}" for name, ok in met]
    return "\n".join(lines), all(ok for _, ok in met)


def _in_process_lines(cost: InProcessCost | None) -> list[str]:
    if cost is None:
        return []
    return [f"worker code in-process, no I/O                   {cost.total_ms_per_1000:>14.1f}",
            f"  validation {cost.validation_ms_per_1000:.1f} + computations and checkpoints "
            f"{cost.computations_ms_per_1000:.1f} (streams.bench.in_process)"]


def _partition_list(parts: Sequence[str]) -> str:
    """``topic/partition`` names, short: the numbers alone when every topic has the same."""
    by_topic: dict[str, list[int]] = {}
    for name in parts:
        topic, _, number = name.rpartition("/")
        by_topic.setdefault(topic, []).append(int(number))
    numbers = {tuple(sorted(found)) for found in by_topic.values()}
    if len(numbers) == 1:
        return f"partitions {','.join(map(str, next(iter(numbers))))} of {len(by_topic)} topics"
    return "; ".join(f"{topic} {','.join(map(str, sorted(found)))}"
                     for topic, found in sorted(by_topic.items()))


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


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


_LOGS: dict[int, Path] = {}  # pid -> log of each process the run started (in its state dir)


def _start(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, *command], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT)
    _LOGS[proc.pid] = log
    return proc


def _log_tail(proc: subprocess.Popen[bytes], lines: int = 20) -> str:
    log = _LOGS.get(proc.pid)
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _start_worker(settings: Settings, group: str, state: Path, web_offset: int = 100
                  ) -> subprocess.Popen[bytes]:
    state.mkdir(parents=True, exist_ok=True)
    env = {"NEZLAM_APP_ID": group, "NEZLAM_STATE_DIR": str(state),
           "NEZLAM_WEB_PORT": str(settings.web_port + web_offset)}
    return _start(["-m", "streams.cli", "worker", "-l", "warn"], env, state / "worker.log")


def _start_faust_ceiling(settings: Settings, group: str, state: Path) -> subprocess.Popen[bytes]:
    env = {"NEZLAM_APP_ID": group, "NEZLAM_STATE_DIR": str(state)}
    state.mkdir(parents=True, exist_ok=True)
    # Faust binds its web port even with the web server off: one of the run's own
    command = ["-m", "faust", "--loop", settings.event_loop,
               "-A", "streams.bench.faust_ceiling", "worker", "-l", "warn",
               "--web-port", str(settings.web_port + 99)]
    return _start(command, env, state / "faust-ceiling.log")


async def _assignment(settings: Settings, group: str) -> dict[str, list[str]]:
    """The input partitions each member of ``group`` holds now (Faust's assignor speaks the
    standard consumer protocol's assignment format)."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    held: dict[str, list[str]] = {}
    for response in described:
        for _error, _group, _state, _ptype, _protocol, members, *_ in response.groups:
            for member_id, client_id, host, _meta, assignment in members:
                if not assignment:
                    continue
                decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                name = f"{client_id}@{host}#{member_id[-6:]}"
                held[name] = [f"{topic}/{p}" for topic, parts in decoded.assignment
                              if topic in INPUTS for p in parts]
    return held


async def _drain(
    settings: Settings, group: str, start: Offsets, end: Offsets,
    procs: Sequence[subprocess.Popen[bytes]], label: str, watch_assignment: bool = False,
) -> tuple[Drain, dict[str, list[str]]]:
    """Wait until ``group`` has committed the whole backlog; events, wall and CPU seconds of
    ``procs`` from the group's first commit to its last (and the last partition assignment
    seen, when asked)."""
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    first: tuple[float, int, float] | None = None
    held: dict[str, list[str]] = {}
    last_progress, last_processed, last_said = time.perf_counter(), -1, 0.0
    while True:
        for proc in procs:
            if proc.poll() is not None:
                raise click.ClickException(
                    f"the {label} exited during the benchmark; its log ends:\n{_log_tail(proc)}")
        done = await committed_offsets(client_kwargs(settings), group, list(end))
        # a group may read past the backlog (later messages): only the backlog is counted
        processed = sum(min(done[tp], end[tp]) - start.get(tp, 0) for tp in end)
        now = time.perf_counter()
        cpu = sum(cpu_seconds(proc.pid) for proc in procs)
        if processed != last_processed:
            last_progress, last_processed = now, processed
        elif now - last_progress > STALL_SECONDS:
            raise click.ClickException(f"the {label} made no progress for {STALL_SECONDS:.0f} s")
        if first is None and processed > 0:
            first = (now, processed, cpu)
            _say(f"{label} started consuming")
        if first is not None and watch_assignment:
            held = await _assignment(settings, group) or held
        if first is not None and (now - last_said >= 5 or processed >= total):
            last_said = now
            elapsed = now - first[0]
            rate = (processed - first[1]) / elapsed if elapsed > 0 else 0.0
            _say(f"{label}: {processed:,} / {total:,} events, {rate:,.0f}/s so far")
        if processed >= total and first is not None:
            return Drain(processed - first[1], now - first[0], cpu - first[2]), held
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


async def _noop_drain(
    settings: Settings, group: str, start: Offsets, end: Offsets, state: Path
) -> tuple[Drain, float]:
    """The no-op Faust agent over the backlog as its own group; its drain and peak memory."""
    await commit_offsets(client_kwargs(settings), group, {tp: start.get(tp, 0) for tp in end})
    _say("faust no-op agent (streams.bench.faust_ceiling) draining the backlog")
    ceiling = _start_faust_ceiling(settings, group, state)
    try:
        drain, _ = await _drain(settings, group, start, end, [ceiling], "faust no-op agent")
        return drain, peak_rss_mib(ceiling.pid)
    finally:
        ceiling.terminate()
        ceiling.wait()


async def _worker_phases(
    settings: Settings, group: str, start: Offsets, end: Offsets, state: Path,
    loads: Sequence[int], probes: int,
) -> tuple[Drain, list[Latency], float]:
    """One worker drains the backlog, then serves the latency probes at each load."""
    await commit_offsets(client_kwargs(settings), group, {tp: start.get(tp, 0) for tp in end})
    worker = _start_worker(settings, group, state)
    try:
        drain, _ = await _drain(settings, group, start, end, [worker], "worker")
        _say(f"worker: {drain.rate:,.0f} events/s, {drain.cpu_ms_per_1000:.1f} CPU-ms/1000; "
             f"its CPU with no input for {IDLE_SECONDS:.0f} s")
        before = cpu_seconds(worker.pid)
        await asyncio.sleep(IDLE_SECONDS)
        drain = replace(drain, idle_cpu_per_second=(cpu_seconds(worker.pid) - before)
                        / IDLE_SECONDS)
        latencies = []
        for load in loads:
            _say(f"latency: {probes} probes at {load}x the national rate")
            steady = _simulate("--speed", str(load))
            try:
                await asyncio.sleep(WARMUP_SECONDS)
                latencies.append(Latency(load, await _latency(settings, probes)))
            finally:
                steady.terminate()
                steady.wait()
            _say(f"latency at {load}x: p50 {latencies[-1].p50:.3f} s, "
                 f"p99 {latencies[-1].p99:.3f} s")
        return drain, latencies, peak_rss_mib(worker.pid)
    finally:
        worker.terminate()
        worker.wait()


async def _scale_out(
    settings: Settings, group: str, start: Offsets, end: Offsets, state: Path
) -> ScaleOut:
    """Two workers in one group drain the backlog; combined rate and partition split."""
    await commit_offsets(client_kwargs(settings), group, {tp: start.get(tp, 0) for tp in end})
    _say("scale-out: two workers in one group draining the backlog")
    workers = [_start_worker(settings, group, state / f"w{i}", web_offset=101 + i)
               for i in range(2)]
    try:
        drain, held = await _drain(settings, group, start, end, workers, "two workers",
                                   watch_assignment=True)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait()
    backlog = {f"{tp.topic}/{tp.partition}": end[tp] - start.get(tp, 0) for tp in end}
    events = {member: sum(backlog.get(p, 0) for p in parts) for member, parts in held.items()}
    return ScaleOut(drain, held, events)


async def _delete_topics(settings: Settings, prefix: str) -> None:
    """The run's changelog and leader topics (named after its groups) go when it ends."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def run_benchmark(
    settings: Settings, minutes: int, probes: int, loads: Sequence[int], scale_out: bool
) -> BenchResult:
    """Every phase; see the module docstring."""
    group = f"nezlam-bench-{uuid.uuid4().hex[:8]}"
    start = await end_offsets(client_kwargs(settings), INPUTS)
    sim_start = datetime.now(UTC) - timedelta(days=2, minutes=minutes)
    _say(f"backlog: simulating {minutes} min of the full network at full speed into Kafka")
    sim = _simulate("--speed", "max", "--duration", f"{minutes}m", "--start",
                    sim_start.isoformat(), "--seed", str(SEED))
    if sim.wait() != 0:
        raise click.ClickException("the simulator failed")
    end = await end_offsets(client_kwargs(settings), INPUTS)
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    _say(f"{total:,} events in the backlog; bare aiokafka consumer reading them")
    bare = await _bare_consumer_rate(settings, start, end)
    _say(f"bare consumer: {bare:,.0f} events/s")
    _say("the worker's own code on the same backlog in this process (no Kafka, database, Faust)")
    own = await in_process.measure(settings, minutes, SEED, sim_start.timestamp())
    _say(f"in-process: {own.total_ms_per_1000:.1f} CPU-ms/1000")
    try:
        with tempfile.TemporaryDirectory(prefix="nezlam-bench-") as tmp:
            state = Path(tmp)
            noop, noop_peak = await _noop_drain(settings, f"{group}-noop", start, end,
                                                state / "noop")
            _say(f"faust no-op agent: {noop.rate:,.0f} events/s, "
                 f"{noop.cpu_ms_per_1000:.1f} CPU-ms/1000")
            # before the latency phase, which appends live messages to the topics
            pair = (await _scale_out(settings, f"{group}-pair", start, end, state / "pair")
                    if scale_out else None)
            worker, latencies, peak = await _worker_phases(
                settings, group, start, end, state / "worker", loads, probes)
    finally:
        await _delete_topics(settings, group)
    return BenchResult(total, bare, noop, worker, noop_peak, peak, latencies, pair, own)


@click.command()
@click.option("--minutes", default=10, show_default=True,
              help="Simulated minutes of the full network in the backlog (10: ~300k events).")
@click.option("--probes", default=60, show_default=True, help="Latency probes per load.")
@click.option("--loads", default="1,5", show_default=True,
              help="Steady loads for the latency probes, multiples of the national rate.")
@click.option("--scale-out/--no-scale-out", default=True, show_default=True,
              help="Also drain the backlog with two workers in one group.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every figure to this file as JSON.")
def main(minutes: int, probes: int, loads: str, scale_out: bool, json_path: Path | None) -> None:
    """Throughput, CPU per event, latency and memory of the worker against Faust's no-op."""
    load_list = [int(part) for part in loads.split(",") if part.strip()]
    result = asyncio.run(run_benchmark(get_settings(), minutes, probes, load_list, scale_out))
    text, ok = report(result)
    print(text)
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
