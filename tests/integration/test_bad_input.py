"""No input crashes the worker or loses a batch (the real worker, Kafka and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections import Counter

import orjson
import pytest
from aiokafka import TopicPartition

from streams.config import Settings
from streams.kafka.topics import REGISTRY, TELEMETRY, VISITS
from tests.integration.bad_messages import bad_messages
from tests.integration.conftest import registry_record, telemetry_record
from tests.integration.worker_process import (
    Worker,
    end_offsets,
    produce,
    query,
    read_from,
    wait_for,
)

pytestmark = pytest.mark.integration


def _rejects(worker: Worker) -> Counter[str]:
    """The worker's dead-letter counter by reason, read from its /metrics."""
    counts: Counter[str] = Counter()
    for labels, value in worker.counter("nezlam_ingest_rejects"):
        counts[labels["reason"]] += int(value)
    return counts


def _dead_letters_of(
    settings: Settings, start: dict[TopicPartition, int], hashes: set[str]
) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for _, value in read_from(settings, start):
        record = orjson.loads(value)
        if record["payload_sha256"] in hashes:
            found[record["payload_sha256"]] = record
    return found


def _report(point: str, day: int, minute: int) -> dict[str, object]:
    return telemetry_record(point, f"2026-02-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z")


def _register(settings: Settings, admin_dsn: str, point: str) -> None:
    """Register ``point`` and wait until the worker has stored it."""
    produce(settings, [(REGISTRY, point, registry_record(point))])
    wait_for(f"{point}'s registry row", lambda: query(
        admin_dsn, "SELECT 1 FROM points WHERE point_id = %s", [point]))


def _telemetry_rows(admin_dsn: str, point: str) -> int:
    count: int = query(admin_dsn, "SELECT count(*) FROM telemetry WHERE point_id = %s",
                       [point])[0][0]
    return count


def test_a_900_kb_garbage_message_in_a_batch_loses_nothing_else(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-poison"
    garbage = bytes(range(256)) * 3600  # 921,600 bytes, not UTF-8, not JSON
    produce(settings, [(REGISTRY, point, registry_record(point))])
    start = end_offsets(settings, [settings.deadletter_topic])
    valid = [(TELEMETRY, point, _report(point, 2, m))
             for m in range(200)]
    # one produce call: the same partition (same key), consecutive offsets, one batch
    produce(settings, [*valid[:100], (TELEMETRY, point, garbage), *valid[100:]])

    wait_for("all 200 valid rows", lambda: _telemetry_rows(admin_dsn, point) == 200 or None)
    digest = hashlib.sha256(garbage).hexdigest()
    letters = wait_for("the garbage's dead letter",
                       lambda: _dead_letters_of(settings, start, {digest}) or None)
    letter = letters[digest]
    assert letter["reason"] == "too_large"
    assert letter["payload_truncated"] is True and letter["payload_bytes"] == len(garbage)
    assert worker.alive()


def test_ten_thousand_bad_messages_are_each_dead_lettered_once_and_good_ones_all_arrive(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-fuzz"
    _register(settings, admin_dsn, point)
    bad = list(bad_messages(10_000, point))
    hashes = {hashlib.sha256(value).hexdigest() for _, _, value in bad}
    assert len(hashes) == len(bad), "the generator must make distinct messages"
    good = [(TELEMETRY, point, _report(point, 3, i)) for i in range(300)]
    mixed = [message for pair in zip(bad[:300], good, strict=True) for message in pair]
    before = _rejects(worker)
    start = end_offsets(settings, [settings.deadletter_topic])

    produce(settings, [*mixed, *bad[300:]])

    wait_for("every good report", lambda: _telemetry_rows(admin_dsn, point) == 300 or None,
             timeout=180)
    try:
        letters = wait_for(
            "a dead letter for every bad message",
            lambda: found if len(found := _dead_letters_of(settings, start, hashes)) == len(bad)
            else None,
            timeout=180,
        )
    except AssertionError:
        found = _dead_letters_of(settings, start, hashes)
        missing = [(topic, key, value[:120]) for topic, key, value in bad
                   if hashlib.sha256(value).hexdigest() not in found]
        raise AssertionError(f"{len(missing)} bad messages without a dead letter, e.g. "
                             f"{missing[:5]}") from None
    assert len(letters) == len(bad)
    assert "internal_error" not in {letter["reason"] for letter in letters.values()}
    after = _rejects(worker)
    assert sum((after - before).values()) == len(bad)
    assert worker.alive(), "no input may crash the worker"
    assert "crashed" not in worker.log_tail().lower()


def test_a_visit_the_database_refuses_is_dead_lettered_and_counts_nowhere(
    worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-refused"
    _register(settings, admin_dsn, point)
    refused = {"event_id": f"{run_id}-nul\u0000", "point_id": point,  # text cannot hold NUL
               "ts": "2026-02-04T10:00:00Z", "kind": "arrival", "people": 40}
    accepted = {"event_id": f"{run_id}-ok", "point_id": point, "ts": "2026-02-04T10:01:00Z",
                "kind": "arrival", "people": 3}
    raw = orjson.dumps(refused)
    start = end_offsets(settings, [settings.deadletter_topic])
    produce(settings, [(VISITS, point, raw), (VISITS, point, accepted)])

    digest = hashlib.sha256(raw).hexdigest()
    letters = wait_for("the refused visit's dead letter",
                       lambda: _dead_letters_of(settings, start, {digest}) or None)
    assert letters[digest]["reason"] == "database_rejected"
    rows = wait_for("the occupancy after the accepted visit", lambda: query(
        admin_dsn, "SELECT people_inside FROM occupancy WHERE point_id = %s "
        "ORDER BY ts DESC LIMIT 1", [point]))
    assert rows == [(3,)], "the refused arrival of 40 people must not count"
