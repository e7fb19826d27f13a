"""`nezlam simulate` against the real local broker: counts, partitions, clock, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.config import Settings
from streams.kafka.topics import REGISTRY, TELEMETRY
from streams.simulate.producer import partition_for
from streams.simulate.progress import BAD, TOPICS
from tests.integration.worker_process import end_offsets, wait_for

pytestmark = pytest.mark.integration

POINTS = 200
PROBE_GROUP = "nezlam-test-simulate"


def _simulate(kafka: str, summary: Path, *options: str) -> dict[str, int]:
    """Run the real command line to completion and return its summary."""
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", "--bootstrap", kafka,
         "--points", str(POINTS), "--summary-json", str(summary), *options],
        check=True, timeout=300,
    )  # fmt: skip
    counts: dict[str, int] = json.loads(summary.read_text())
    return counts


async def _records(
    kafka: str, before: dict[TopicPartition, int], after: dict[TopicPartition, int], topic: str
) -> list[ConsumerRecord]:
    """The records of ``topic`` between two snapshots of end offsets."""
    wanted = {tp: end for tp, end in after.items() if tp.topic == topic and end > before[tp]}
    # A group id, though nothing is committed: aiokafka's group-less consumer can fail to stop.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, group_id=PROBE_GROUP, enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, before[tp])
        while [tp for tp, end in wanted.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(*wanted, timeout_ms=1000)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < wanted[tp])
    finally:
        await consumer.stop()
    return records


def _growth(before: dict[TopicPartition, int], after: dict[TopicPartition, int]) -> dict[str, int]:
    growth = dict.fromkeys(TOPICS, 0)
    for tp, end in after.items():
        growth[tp.topic] += end - before.get(tp, 0)
    return growth


def test_offsets_grow_by_exactly_the_reported_counts(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    before = end_offsets(settings, TOPICS)
    counts = _simulate(kafka, tmp_path / "summary.json", "--duration", "10m", "--speed", "max")
    after = end_offsets(settings, TOPICS)
    assert counts[REGISTRY] == POINTS
    assert counts[TELEMETRY] > POINTS * 10
    assert counts[BAD] == 0
    assert _growth(before, after) == {topic: counts[topic] for topic in TOPICS}
    # Every point keeps to the partition Kafka's Java client would give its key.
    partitions = list(range(settings.topic_partitions))
    for topic in (REGISTRY, TELEMETRY):
        records = asyncio.run(_records(kafka, before, after, topic))
        assert len(records) == counts[topic]
        for record in records:
            assert record.partition == partition_for(record.key, partitions)
        # At full speed the run ends at the wall clock: no ts after its record was produced.
        if topic == TELEMETRY:
            for record in records:
                ts = datetime.fromisoformat(orjson.loads(record.value)["ts"]).timestamp()
                assert ts <= record.timestamp / 1000 + 1.0


def test_malformed_messages_are_counted_apart(
    kafka: str, settings: Settings, tmp_path: Path
) -> None:
    before = end_offsets(settings, TOPICS)
    counts = _simulate(
        kafka, tmp_path / "summary.json", "--duration", "5m", "--speed", "max",
        "--bad-rate", "0.05", "--seed", "7",
    )  # fmt: skip
    after = end_offsets(settings, TOPICS)
    growth = _growth(before, after)
    assert counts[BAD] > 0
    assert growth[REGISTRY] == counts[REGISTRY]
    stream = [topic for topic in TOPICS if topic != REGISTRY]
    assert sum(growth[t] for t in stream) == sum(counts[t] for t in stream) + counts[BAD]


def test_ctrl_c_stops_cleanly_and_flushes(kafka: str, settings: Settings, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    before = end_offsets(settings, TOPICS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "simulate", "--bootstrap", kafka,
         "--points", str(POINTS), "--summary-json", str(summary)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # Interrupted once reports flow (real time: the registry first, then reports), so the
    # flush on Ctrl-C has something in flight to lose.
    wait_for("the simulator's first reports",
             lambda: _growth(before, end_offsets(settings, TOPICS))[TELEMETRY] > 0, timeout=60)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    counts = json.loads(summary.read_text())
    after = end_offsets(settings, TOPICS)
    assert counts[TELEMETRY] > 0
    assert _growth(before, after) == {topic: counts[topic] for topic in TOPICS}
    # Real time: ts follows the wall clock.
    records = asyncio.run(_records(kafka, before, after, TELEMETRY))
    for record in records:
        ts = datetime.fromisoformat(orjson.loads(record.value)["ts"]).timestamp()
        assert ts <= record.timestamp / 1000 + 1.0
