"""``nezlam state migrate`` on the real broker: four legacy changelogs become one record each."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.cli.state_migration import LEGACY_TABLES, StateMigrationError, migrate
from streams.config import Settings
from streams.domain.alert_lifecycle import AlertState
from streams.domain.fuel_forecast import FuelReading, update
from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState
from streams.kafka.client import client_kwargs
from streams.kafka.offsets import PROBE_GROUP, end_offsets
from streams.kafka.topic_admin import ensure_topics
from streams.kafka.topics import TopicSpec, changelog_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def app_settings(kafka: str, settings: Settings, run_id: str) -> Iterator[Settings]:
    """Settings of an app of its own, with its legacy changelogs created (deleted after)."""
    app = settings.model_copy(update={"app_id": f"nezlam-test-migrate-{run_id}"})
    legacy = [TopicSpec(f"{app.app_id}-{name}-changelog", None, compacted=True)
              for name in LEGACY_TABLES]
    ensure_topics(app, legacy)
    yield app

    async def delete() -> None:
        admin = AIOKafkaAdminClient(**client_kwargs(app))
        await admin.start()
        try:
            await admin.delete_topics([spec.name for spec in (*legacy, *changelog_topics(
                app.app_id))])
        finally:
            await admin.close()

    asyncio.run(delete())


async def _produce(app: Settings, records: list[tuple[str, int, bytes, object | None]]) -> None:
    producer = AIOKafkaProducer(**client_kwargs(app), acks="all")
    await producer.start()
    try:
        for table, partition, key, value in records:
            await producer.send_and_wait(
                f"{app.app_id}-{table}-changelog",
                None if value is None else orjson.dumps(value), key=key, partition=partition,
            )
    finally:
        await producer.stop()


async def _read_target(app: Settings) -> dict[bytes, tuple[int, PointState]]:
    (target,) = changelog_topics(app.app_id)
    ends = {tp: end for tp, end in (await end_offsets(client_kwargs(app), [target.name])).items()
            if end > 0}
    consumer = AIOKafkaConsumer(**client_kwargs(app), group_id=PROBE_GROUP,
                                enable_auto_commit=False)
    await consumer.start()
    found: dict[bytes, tuple[int, PointState]] = {}
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning()
        pending = set(ends)
        while pending:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    assert record.key is not None and record.value is not None
                    found[record.key] = (tp.partition,
                                         PointState.from_dict(orjson.loads(record.value)))
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return found


def test_the_legacy_tables_merge_into_one_record_per_point(app_settings: Settings) -> None:
    fuel, _ = update(None, FuelReading(1000.0, 150.0, True), 200.0)
    liveness = LivenessState(kind="permanent", last_seen_ts=1000.0, last_status="open")
    asyncio.run(_produce(app_settings, [
        ("fuel", 5, b"p-1", fuel.to_dict()),
        ("liveness", 5, b"p-1", {**liveness.to_dict(), "last_status": "closed"}),
        ("liveness", 5, b"p-1", liveness.to_dict()),  # the newest value counts
        ("alerts", 2, b"p-2", AlertState(evaluated_at=900.0).to_dict()),
        ("occupancy", 2, b"p-2", {"high_ts": 800.0}),
        ("occupancy", 2, b"p-2", None),  # deleted since
    ]))

    report = asyncio.run(migrate(app_settings))

    assert (report.legacy_records, report.points) == (6, 2)
    assert asyncio.run(_read_target(app_settings)) == {
        b"p-1": (5, PointState(partition=5, fuel=fuel, liveness=liveness)),
        b"p-2": (2, PointState(partition=2, alerts=AlertState(evaluated_at=900.0))),
    }
    with pytest.raises(StateMigrationError, match="already holds records"):
        asyncio.run(migrate(app_settings))
