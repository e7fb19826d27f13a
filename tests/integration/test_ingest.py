"""The ingest worker on the real stack: kcat to table, dead letters, idempotent replays."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import TopicPartition

from streams.config import Settings
from streams.kafka.topics import ACTIVATIONS, INPUT_TOPICS, REGISTRY, TELEMETRY, VISITS
from streams.simulate.registry import build_registry
from tests.integration.conftest import WORKER_GROUP, registry_record, telemetry_record
from tests.integration.worker_process import (
    Worker,
    commit_offsets,
    committed,
    end_offsets,
    produce,
    query,
    read_from,
    wait_for,
)

pytestmark = pytest.mark.integration


def _kcat(settings: Settings, topic: str, key: str, value: dict[str, object]) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is installed by `make system-deps`"
    line = f"{key}|{orjson.dumps(value).decode()}\n"
    subprocess.run(
        [kcat, "-P", "-b", ",".join(settings.kafka_bootstrap), "-X", "partitioner=murmur2_random",
         "-t", topic, "-K", "|"],
        input=line.encode(), check=True, timeout=30,
    )


def test_a_message_produced_with_kcat_reaches_its_table(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-kcat"
    _kcat(settings, REGISTRY, point, registry_record(point, fuel_tank_l=350.0))
    _kcat(settings, TELEMETRY, point,
          telemetry_record(point, "2026-03-01T10:00:00+02:00", fuel_level_l=142.5))

    rows = wait_for("the kcat telemetry row", lambda: query(
        admin_dsn, "SELECT fuel_level_l, ts FROM telemetry WHERE point_id = %s", [point]))
    assert rows == [(142.5, datetime(2026, 3, 1, 8, tzinfo=UTC))]
    # the registry has an agent of its own: its row may land a moment after the telemetry's
    assert wait_for("the kcat registry row", lambda: query(
        admin_dsn, "SELECT fuel_tank_l FROM points WHERE point_id = %s", [point])) == [(350.0,)]


def test_bad_messages_go_to_the_dead_letter_topic_with_a_reason(
    worker: Worker, settings: Settings, run_id: str
) -> None:
    start = end_offsets(settings, [settings.deadletter_topic])
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    known = f"IT-{run_id}-dlq"
    # Input topics are keyed by point_id: each case is a point of its own, keyed by it.
    cases = {case: f"{known}-{case}" for case in ("missing", "range", "future", "enum", "old")}
    produce(settings, [(REGISTRY, point, registry_record(point)) for point in cases.values()])
    produce(settings, [
        (TELEMETRY, f"{known}-json", b'{"point_id": "oops", '),
        (TELEMETRY, cases["missing"], {"point_id": cases["missing"], "ts": "2026-03-01T10:00:00Z"}),
        (TELEMETRY, cases["range"], telemetry_record(cases["range"], "2026-03-01T10:00:00Z",
                                                     fuel_level_l=-3.5)),
        (TELEMETRY, cases["future"], telemetry_record(cases["future"], future)),
        (VISITS, f"{known}-unknown", {
            "event_id": f"{run_id}-v1", "point_id": f"{known}-unknown",
            "ts": "2026-03-01T10:00:00Z", "kind": "arrival", "people": 2}),
        (ACTIVATIONS, cases["enum"], {"point_id": cases["enum"], "ts": "2026-03-01T10:00:00Z",
                                      "action": "explode", "requested_by": "test"}),
        (TELEMETRY, f"{known}-mismatch", telemetry_record(cases["range"], "2026-03-01T10:00:00Z")),
        (TELEMETRY, cases["old"], telemetry_record(cases["old"], "0001-01-01T00:30:00+01:00")),
    ])

    def dead_letters() -> dict[str, dict[str, object]] | None:
        found = {
            key.decode(): orjson.loads(value)
            for key, value in read_from(settings, start)
            if key and key.decode().startswith(known)
        }
        return found if len(found) == 8 else None

    found = wait_for("eight dead letters", dead_letters)
    reasons = {key.removeprefix(known + "-"): record["reason"] for key, record in found.items()}
    assert reasons == {
        "json": "invalid_json", "missing": "schema", "range": "schema",
        "future": "future_timestamp", "unknown": "unknown_point", "enum": "schema",
        "mismatch": "key_mismatch", "old": "old_timestamp",
    }
    assert found[f"{known}-range"]["field"] == "fuel_level_l"
    assert found[f"{known}-range"]["value"] == -3.5
    assert found[f"{known}-json"]["payload"] == '{"point_id": "oops", '
    assert found[f"{known}-unknown"]["source_topic"] == VISITS
    assert worker.alive(), "a bad message must never crash the worker"


def _row_counts(admin_dsn: str, run_id: str) -> dict[str, int]:
    # Only this session's points: messages of earlier sessions refused then (say, before their
    # point was registered) may rightly be accepted on a replay.
    return {
        table: query(admin_dsn, f"SELECT count(*) FROM {table} WHERE point_id LIKE %s",
                     [f"IT-{run_id}-%"])[0][0]
        for table in ("points", "telemetry", "visits", "activations")
    }


def test_replaying_every_input_topic_from_the_sessions_start_adds_no_rows(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str,
    session_start: dict[TopicPartition, int],
) -> None:
    point = f"IT-{run_id}-replay"
    produce(settings, [
        (REGISTRY, point, registry_record(point)),
        *[(TELEMETRY, point, telemetry_record(point, f"2026-03-01T10:{m:02d}:00Z"))
          for m in range(10)],
        (VISITS, point, {"event_id": f"{run_id}-r1", "point_id": point,
                         "ts": "2026-03-01T10:00:00Z", "kind": "arrival", "people": 3}),
    ])
    wait_for("the replay point's rows", lambda: query(
        admin_dsn, "SELECT count(*) FROM telemetry WHERE point_id = %s HAVING count(*) = 10",
        [point]))
    tps = list(end_offsets(settings, [spec.name for spec in INPUT_TOPICS]))
    wait_for("the worker to commit everything", lambda: all(
        committed(settings, WORKER_GROUP, tps)[tp] >= end
        for tp, end in end_offsets(settings, [spec.name for spec in INPUT_TOPICS]).items()))
    before = _row_counts(admin_dsn, run_id)

    worker.stop()
    # Everything this session's worker has consumed (earlier runs may leave large backlogs).
    commit_offsets(settings, WORKER_GROUP, session_start)
    assert committed(settings, WORKER_GROUP, tps) == {tp: session_start.get(tp, 0) for tp in tps}
    worker.start()
    ends = end_offsets(settings, [spec.name for spec in INPUT_TOPICS])
    wait_for("the worker to replay every input topic", lambda: worker.alive() and all(
        committed(settings, WORKER_GROUP, tps)[tp] >= end for tp, end in ends.items()),
        timeout=180)

    assert before["telemetry"] >= 10
    assert _row_counts(admin_dsn, run_id) == before


def test_every_simulated_message_reaches_the_database(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str, tmp_path: Path
) -> None:
    # A start of its own (derived from the run id) keeps this run's rows apart from earlier runs'.
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=int(run_id, 16) % 500_000)
    end = start + timedelta(minutes=10)
    summary = tmp_path / "summary.json"
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", "--points", "150", "--speed", "max",
         "--start", start.isoformat(), "--duration", "10m", "--seed", "7",
         "--summary-json", str(summary)],
        check=True, timeout=300,
    )
    sent = orjson.loads(summary.read_bytes())
    point_ids = [p["point_id"] for p in build_registry(7, 150)]
    expected = {"telemetry": sent[TELEMETRY], "visits": sent[VISITS],
                "activations": sent[ACTIVATIONS]}

    def arrived() -> dict[str, int] | None:
        counts = {
            table: query(admin_dsn, f"SELECT count(*) FROM {table} "
                         "WHERE point_id = ANY(%s) AND ts >= %s AND ts <= %s",
                         [point_ids, start, end])[0][0]
            for table in expected
        }
        return counts if counts == expected else None

    wait_for(f"the simulated messages in the database ({expected})", arrived, timeout=120)
    assert sent[TELEMETRY] > 1000
    assert len(point_ids) == sent[REGISTRY]
    wait_for("every simulated point in the points table", lambda: query(
        admin_dsn, "SELECT count(*) FROM points WHERE point_id = ANY(%s)",
        [point_ids])[0][0] == len(point_ids))
