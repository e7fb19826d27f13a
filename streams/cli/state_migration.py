"""``nezlam state migrate``: the state of earlier versions, merged into one record per point.

Earlier versions kept a point's state in four Faust tables (fuel, occupancy, liveness, alerts),
each with its own compacted changelog topic. This version keeps one versioned record per point
(:class:`~streams.domain.point_state.PointState`) in the ``points`` table. The migration reads
the four changelogs to their ends, merges each point's newest parts, and writes one record per
point to the new changelog, in the partition its parts were in; a worker started afterwards
restores the table from it. Run it once, with every worker stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.config import Settings, get_settings
from streams.domain.alert_lifecycle import AlertState
from streams.domain.fuel_forecast import FuelState
from streams.domain.occupancy import OccupancyState
from streams.domain.point_state import PointState
from streams.domain.staleness import LivenessState
from streams.kafka.client import client_kwargs
from streams.kafka.offsets import PROBE_GROUP, end_offsets, partitions
from streams.kafka.topic_admin import ensure_topics_async
from streams.kafka.topics import changelog_topics

#: The tables of earlier versions, each ``<app id>-<name>-changelog``.
LEGACY_TABLES = ("fuel", "occupancy", "liveness", "alerts")


class StateMigrationError(click.ClickException):
    """The migration cannot run as things stand (the message says why)."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a migration read and wrote."""

    legacy_records: int
    points: int


def merge_parts(partition: int, parts: Mapping[str, Mapping[str, Any]]) -> PointState:
    """One point's record from its parts in the legacy tables (table name -> stored value)."""
    fuel, occupancy = parts.get("fuel"), parts.get("occupancy")
    liveness, alerts = parts.get("liveness"), parts.get("alerts")
    return PointState(
        partition=partition,
        fuel=None if fuel is None else FuelState.from_dict(dict(fuel)),
        occupancy=None if occupancy is None else OccupancyState.from_dict(occupancy),
        liveness=None if liveness is None else LivenessState.from_dict(liveness),
        alerts=None if alerts is None else AlertState.from_dict(alerts),
    )


async def migrate(settings: Settings) -> MigrationReport:
    """Merge the legacy changelogs into the ``points`` changelog (which must be empty)."""
    client = client_kwargs(settings)
    (target,) = changelog_topics(settings.app_id)
    await ensure_topics_async(settings, (target,))
    if any((await end_offsets(client, [target.name])).values()):
        raise StateMigrationError(
            f"{target.name} already holds records: the state was migrated (or rebuilt) before"
        )
    legacy = [f"{settings.app_id}-{name}-changelog" for name in LEGACY_TABLES]
    found = [tp for tp in await partitions(client, legacy) if tp.topic in legacy]
    existing = sorted({tp.topic for tp in found})
    ends = await end_offsets(client, existing) if existing else {}
    newest: dict[tuple[int, bytes], dict[str, Any]] = {}
    read = 0
    consumer = AIOKafkaConsumer(**client, group_id=PROBE_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp for tp in found if ends[tp] > 0])
        await consumer.seek_to_beginning()
        pending = {tp for tp in found if ends[tp] > 0}
        while pending:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                table = tp.topic.removeprefix(f"{settings.app_id}-").removesuffix("-changelog")
                for record in records:
                    read += 1
                    if record.key is None:
                        continue
                    parts = newest.setdefault((tp.partition, record.key), {})
                    if record.value is None:  # a tombstone: the part was deleted
                        parts.pop(table, None)
                    else:
                        parts[table] = orjson.loads(record.value)
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(**client, acks="all", enable_idempotence=True)
    await producer.start()
    written = 0
    try:
        for (partition, key), parts in newest.items():
            if parts:
                record = merge_parts(partition, parts)
                await producer.send(target.name, orjson.dumps(record.to_dict()), key=key,
                                    partition=partition)
                written += 1
        await producer.flush()
    finally:
        await producer.stop()
    return MigrationReport(legacy_records=read, points=written)


@click.group()
def state() -> None:
    """The workers' per-point state (Faust table ``points``)."""


@state.command("migrate")
def migrate_command() -> None:
    """Merge the four state tables of earlier versions into the one ``points`` table (run once,
    with every worker stopped)."""
    report = asyncio.run(migrate(get_settings()))
    click.echo(f"read {report.legacy_records} legacy changelog records; "
               f"wrote {report.points} point records")
