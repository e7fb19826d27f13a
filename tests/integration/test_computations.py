"""The computations end to end on the real stack: Kafka in, Faust tables, database, topics out."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka import TopicPartition

from streams.bench.fuel_traces import generate_trace
from streams.config import Settings
from streams.domain.fuel_forecast import FuelReading, update
from streams.kafka.topics import (
    ACTIVATIONS,
    INPUT_TOPICS,
    POINT_STATE,
    REGISTRY,
    TELEMETRY,
    VISITS,
)
from streams.simulate.registry import build_registry
from tests.integration.conftest import (
    SILENCE_AFTER,
    fresh_worker,
    registry_record,
    telemetry_record,
    wait_until_processing,
)
from tests.integration.worker_process import (
    Worker,
    committed,
    end_offsets,
    produce,
    query,
    read_from,
    wait_for,
)

pytestmark = pytest.mark.integration


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_visits_and_headcount_give_the_expected_occupancy(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-occ"
    # Recent enough for the shared (wall-clock) worker's tasks: within the allowed lateness of
    # their time, which follows the clock once they are caught up.
    t0 = float(int(time.time()) - 480)
    visits = [(f"{run_id}-a{i}", t0 + 60 * i, "arrival", 2) for i in range(5)]
    visits += [(f"{run_id}-d{i}", t0 + 400 + 60 * i, "departure", 1) for i in range(2)]
    produce(settings, [(REGISTRY, point, registry_record(point, capacity_people=20))] + [
        (VISITS, point, {"event_id": eid, "point_id": point, "ts": _iso(ts), "kind": kind,
                         "people": people})
        for eid, ts, kind, people in visits
    ])
    last_visit = _iso(t0 + 460)
    rows = wait_for("the occupancy after the visits", lambda: query(
        admin_dsn, "SELECT people_inside, visits_15m, visits_1h, utilisation FROM occupancy "
        "WHERE point_id = %s AND ts = %s", [point, last_visit]))
    assert rows == [(8, 10, 10, 0.4)]  # 10 arrived, 2 left; 8 of 20 places

    # A reported headcount overrides the running count; a replayed visit changes nothing.
    report_ts = _iso(t0 + 600)
    produce(settings, [
        (TELEMETRY, point, telemetry_record(point, report_ts, headcount=3)),
        (VISITS, point, {"event_id": visits[0][0], "point_id": point, "ts": _iso(visits[0][1]),
                         "kind": "arrival", "people": 2}),
    ])
    rows = wait_for("the occupancy after the headcount", lambda: query(
        admin_dsn, "SELECT people_inside, visits_15m FROM occupancy WHERE point_id = %s "
        "AND ts = %s", [point, report_ts]))
    assert rows == [(3, 10)]


def test_fuel_forecasts_follow_the_ground_truth(
    event_clock_worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    # A day of history: a worker of its own on event time, whose tasks' time follows the trace.
    point = f"IT-{run_id}-fuel"
    trace = generate_trace(seed=3, trace_id=5, days=1.0)
    produce(settings, [(REGISTRY, point, registry_record(point, fuel_tank_l=trace.params.tank_l))]
            + [(TELEMETRY, point, telemetry_record(point, _iso(ts), fuel_level_l=level,
                                                   generator_running=running, headcount=None))
               for ts, level, running in zip(trace.ts, trace.level_reading, trace.running,
                                             strict=True)])
    last = _iso(trace.ts[-1])
    wait_for("the forecast of the last reading", lambda: query(
        admin_dsn, "SELECT 1 FROM fuel_forecast WHERE point_id = %s AND ts = %s",
        [point, last]), timeout=120)
    stored = dict(query(admin_dsn, "SELECT ts, hours_to_empty FROM fuel_forecast "
                                   "WHERE point_id = %s", [point]))

    # The same readings through the pure forecaster, in process: the pipeline must agree.
    state = None
    errors_pipeline, errors_direct = [], []
    for i, ts in enumerate(trace.ts):
        reading = FuelReading(ts, trace.level_reading[i], trace.running[i])
        state, forecast = update(state, reading, trace.params.tank_l)
        truth = trace.true_hours_to_empty[i]
        if truth is None or truth >= 24 or not trace.running[i]:
            continue
        row = stored.get(datetime.fromtimestamp(ts, UTC))
        if forecast.hours_to_empty is None or row is None:
            continue
        errors_direct.append(abs(min(forecast.hours_to_empty, 48) - truth))
        errors_pipeline.append(abs(min(row, 48) - truth))
    assert len(errors_pipeline) > 100
    mae = sum(errors_pipeline) / len(errors_pipeline)
    assert mae == pytest.approx(sum(errors_direct) / len(errors_direct), abs=1e-6)
    assert mae < 3.0, f"mean absolute error of hours to empty {mae:.2f} h"


def test_a_silent_point_is_reported_within_its_threshold_plus_30_seconds(
    worker: Worker, settings: Settings, run_id: str
) -> None:
    point = f"IT-{run_id}-quiet"
    start = end_offsets(settings, [POINT_STATE])
    last_report = time.time()
    produce(settings, [(REGISTRY, point, registry_record(point)),
                       (TELEMETRY, point, telemetry_record(point, _iso(last_report)))])

    def silent() -> dict[str, Any] | None:
        for key, value in read_from(settings, start):
            change = orjson.loads(value)
            if key == point.encode() and change["state"] == "silent":
                return change
        return None

    change = wait_for("the point to be reported silent", silent, timeout=90)
    detected = datetime.fromisoformat(change["ts"]).timestamp()
    threshold = SILENCE_AFTER["permanent"]
    # Silent from the threshold itself (its ts is said to the microsecond).
    assert threshold - 0.001 <= detected - last_report <= threshold + 30
    assert change["previous_state"] == "open"
    assert change["oblast"] == "Київська"


@pytest.fixture()
def event_clock_worker(
    wall_clock_worker_paused: None, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A fresh worker on a simulated clock (the newest event ts it has seen)."""
    proc = fresh_worker(settings, tmp_path_factory, "event", NEZLAM_CLOCK="event",
                         NEZLAM_LIVENESS_INTERVAL_SECONDS="1")
    yield proc
    proc.stop()


@pytest.fixture()
def lone_worker(
    wall_clock_worker_paused: None, settings: Settings, admin_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """A fresh worker alone on the topics, already processing: the rows a test counts are its
    work only, and no state from earlier runs (the simulator's point ids repeat) stands in
    its way."""
    proc = fresh_worker(settings, tmp_path_factory, "lone")
    wait_until_processing(proc, settings, admin_dsn, f"IT-lone-{uuid.uuid4().hex[:8]}")
    yield proc
    proc.stop()


def test_activation_overdue_after_two_simulated_hours(
    event_clock_worker: Worker,
    settings: Settings,
    admin_dsn: str,
    run_id: str,
) -> None:
    point = f"IT-{run_id}-standby"
    ordered = time.time() - 3 * 3600  # the whole scenario lies in the past: no future ts
    start = end_offsets(settings, [POINT_STATE])

    def reports(until_minutes: int, since_minutes: int = 0) -> list[tuple[str, str, Any]]:
        return [(TELEMETRY, point, telemetry_record(point, _iso(ordered + 60 * m),
                                                    status="standby", headcount=None))
                for m in range(since_minutes, until_minutes)]

    def changes() -> list[dict[str, Any]]:
        return [orjson.loads(v) for k, v in read_from(settings, start) if k == point.encode()]

    produce(settings, [
        (REGISTRY, point, registry_record(point, kind="standby")),
        (ACTIVATIONS, point, {"point_id": point, "ts": _iso(ordered), "action": "activate",
                              "requested_by": "ДСНС test"}),
        *reports(110),
    ])
    wait_for("the standby point's first state", lambda: query(
        admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = %s AND ts = %s",
        [point, _iso(ordered + 60 * 109)]) and changes(), timeout=120)

    produce(settings, reports(125, since_minutes=110))
    overdue = wait_for("activation overdue", lambda: [
        c for c in changes() if c["activation_overdue"]], timeout=60)
    # The whole history of the point's state: it turned overdue once, and not before the
    # deadline (an overdue judged at 1 h 49 min, when the first reports were read, fails here).
    judged_at = datetime.fromisoformat(overdue[0]["ts"]).timestamp()
    assert 2 * 3600 - 0.001 <= judged_at - ordered <= 2 * 3600 + 15 * 60  # ts to the microsecond
    turned_overdue = [later for earlier, later in zip([{}, *changes()], changes(), strict=False)
                      if later["activation_overdue"] and not earlier.get("activation_overdue")]
    assert len(turned_overdue) == 1


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    lone_worker: Worker, settings: Settings, admin_dsn: str, run_id: str, tmp_path: Path
) -> None:
    worker = lone_worker
    start = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=int(run_id, 16) % 100_000)
    end = start + timedelta(minutes=30)
    summary = tmp_path / "summary.json"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "simulate", "--points", "400", "--speed", "max",
         "--start", start.isoformat(), "--duration", "30m", "--seed", "11",
         "--summary-json", str(summary)],
    )
    point_ids = [p["point_id"] for p in build_registry(11, 400)]

    def counts(tables: Sequence[str] = ("telemetry", "visits")) -> dict[str, int]:
        return {table: query(admin_dsn, f"SELECT count(*) FROM {table} WHERE point_id = ANY(%s) "
                             "AND ts >= %s AND ts <= %s", [point_ids, start, end])[0][0]
                for table in tables}

    # Killed while it holds messages it could not write: the telemetry table is locked, so a
    # worker that committed before writing would lose them (its commit moves on meanwhile).
    wait_for("the worker writing the simulated telemetry", lambda: counts()["telemetry"] > 0,
             timeout=120)
    telemetry_parts = list(end_offsets(settings, [TELEMETRY]))
    with psycopg.connect(admin_dsn) as lock:
        lock.execute("LOCK TABLE telemetry IN EXCLUSIVE MODE")  # reads go on, writes wait
        written = counts()["telemetry"]
        # (+ 1: the probe report written before the run)
        held = wait_for("the worker holding reports it cannot write", lambda: (
            n if (n := _consumed(worker, TELEMETRY)) > written + 1 else None), timeout=60)
        before = sum(committed(settings, worker.group, telemetry_parts).values())
        # A worker that commits before it writes would commit within a commit interval or two.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(
                committed(settings, worker.group, telemetry_parts).values()) == before:
            time.sleep(0.5)
        worker.stop(signal.SIGKILL)
        lock.rollback()
    at_kill = counts()
    assert at_kill["telemetry"] == written < held - 1, (written, held)
    worker.start()
    assert simulator.wait(timeout=300) == 0
    sent = orjson.loads(summary.read_bytes())
    expected = {"telemetry": sent[TELEMETRY], "visits": sent[VISITS]}
    assert at_kill["telemetry"] < expected["telemetry"], "killed after it had written everything"
    wait_for(f"every simulated row after the crash ({expected})",
             lambda: counts() == expected, timeout=240,
             explain=lambda: f"rows now: {counts()}\n{worker.log_tail(60)}")
    # Once the worker has committed every input message, nothing can be written again: only
    # then is "no more rows than sent" a fact and not a moment.
    inputs = [s.name for s in INPUT_TOPICS]
    ends = end_offsets(settings, inputs)

    def behind() -> dict[TopicPartition, tuple[int, int]]:
        return {tp: (offset, ends[tp]) for tp, offset
                in committed(settings, worker.group, list(ends)).items() if offset < ends[tp]}

    # A slow machine may need a re-read of a stalled partition (NEZLAM_STALL_RESEEK_SECONDS).
    wait_for("the worker committing every input message", lambda: not behind(), timeout=240,
             explain=lambda: f"behind (committed, end): {behind()}\n{worker.log_tail(60)}")
    assert counts() == expected  # and no more: nothing was written twice
    assert worker.alive()
    assert query(admin_dsn, "SELECT count(*) FROM fuel_forecast WHERE point_id = ANY(%s) "
                 "AND ts >= %s AND ts <= %s", [point_ids, start, end])[0][0] > 0


def _consumed(worker: Worker, topic: str) -> float:
    """The messages of ``topic`` the worker has taken into batches so far."""
    return sum(value for labels, value in worker.counter("nezlam_ingest_messages_in")
               if labels.get("topic") == topic)


def test_a_generator_running_dry_fires_escalates_and_resolves_after_a_refuel(
    event_clock_worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-dry"
    t0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    rng = random.Random(5)
    level, reports = 70.0, []
    for minute in range(9 * 60 + 20):  # 5 l/h from 70 l: 14 h of fuel, falling to under 6 h
        if minute == 9 * 60:
            level = 100.0  # the truck came
        reports.append((TELEMETRY, point, telemetry_record(
            point, _iso(t0 + 60 * minute), fuel_level_l=round(level + rng.gauss(0, 0.3), 1),
            headcount=None)))
        level -= 5 / 60
    produce(settings, [(REGISTRY, point, registry_record(point, fuel_tank_l=100.0))])
    # Rules judge each point's newest report per batch: feed the hours a few minutes at a time,
    # as a live point would, so that pending periods pass between evaluations.
    for chunk in range(0, len(reports), 10):
        batch = reports[chunk:chunk + 10]
        produce(settings, batch)
        last_ts = batch[-1][2]["ts"]
        wait_for("the chunk's telemetry", lambda ts=last_ts: query(
            admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = %s AND ts = %s", [point, ts]))

    def events() -> list[tuple[str, str]]:
        return query(admin_dsn, "SELECT alertname, status FROM alert_events WHERE point_id = %s "
                     "ORDER BY ts, status", [point])

    wait_for("both fuel alerts resolved", lambda: [
        e for e in events() if e[1] == "resolved"][1:], timeout=120)
    fired = [name for name, status in events() if status == "firing"]
    assert fired == ["fuel_low", "fuel_critical"]
    assert {name for name, status in events() if status == "resolved"} == {
        "fuel_low", "fuel_critical"}
    assert query(admin_dsn, "SELECT count(*) FROM alerts_active WHERE point_id = %s",
                 [point]) == [(0,)]
