"""``nezlam deadletter``: what was refused and why, one refusal in full, and replay.

A dead letter is named by its place on the dead-letter topic, ``<partition>:<offset>``. Replay
sends the original message (read back from its source topic and offset, or from the dead
letter's payload when it holds all of it) to its original topic with its original key, and
marks the dead letter as replayed on the compacted ``<dead-letter topic>.replayed`` topic, so
that running the same replay twice sends nothing the second time.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from streams.config import Settings, get_settings
from streams.kafka.client import client_kwargs
from streams.kafka.offsets import PROBE_GROUP, partitions
from streams.kafka.topic_admin import ensure_topics_async
from streams.kafka.topics import replay_marker_spec


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record of the dead-letter topic and where it sits there."""

    partition: int
    offset: int
    timestamp_ms: int
    record: dict[str, Any]

    @property
    def id(self) -> str:
        """``<partition>:<offset>`` on the dead-letter topic."""
        return f"{self.partition}:{self.offset}"


def count_by_topic_and_reason(letters: Iterable[DeadLetter]) -> Counter[tuple[str, str]]:
    """How many dead letters each (source topic, reason) has."""
    return Counter((d.record["source_topic"], d.record["reason"]) for d in letters)


def select(
    letters: Iterable[DeadLetter], *, reason: str | None, topic: str | None
) -> list[DeadLetter]:
    """The dead letters of ``reason`` and ``topic`` (None: any)."""
    return [
        d for d in letters
        if (reason is None or d.record["reason"] == reason)
        and (topic is None or d.record["source_topic"] == topic)
    ]


def payload_bytes(record: Mapping[str, Any]) -> bytes | None:
    """The original message from the dead letter itself; None when it holds only a part."""
    if record.get("payload_truncated", False):
        return None
    payload: str = record["payload"]
    return base64.b64decode(payload) if record["payload_encoding"] == "base64" else payload.encode()


async def _read_all(
    client: Mapping[str, Any], topic: str, since_ms: int | None
) -> list[tuple[int, int, int, bytes | None, bytes | None]]:
    """(partition, offset, timestamp ms, key, value) of a whole topic, or since a time."""
    tps = await partitions(client, [topic])
    if not tps:
        return []
    consumer = AIOKafkaConsumer(**client, group_id=PROBE_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if since_ms is None:
            await consumer.seek_to_beginning(*tps)
        else:
            found = await consumer.offsets_for_times({tp: since_ms for tp in tps})
            for tp in tps:
                at = found.get(tp)
                consumer.seek(tp, at.offset if at is not None else ends[tp])
        rows: list[tuple[int, int, int, bytes | None, bytes | None]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                rows.extend((r.partition, r.offset, r.timestamp, r.key, r.value) for r in records)
        return rows
    finally:
        await consumer.stop()


async def read_dead_letters(settings: Settings, since_seconds: float | None) -> list[DeadLetter]:
    """The dead letters of the last ``since_seconds`` (None: all the topic keeps)."""
    since_ms = None if since_seconds is None else int((time.time() - since_seconds) * 1000)
    rows = await _read_all(client_kwargs(settings), settings.deadletter_topic, since_ms)
    return [DeadLetter(p, o, ts, orjson.loads(v)) for p, o, ts, _, v in rows if v is not None]


async def _original(client: Mapping[str, Any], record: Mapping[str, Any]) -> tuple[
    bytes | None, bytes | None
]:
    """The original (key, value) at its source offset; (None, None) when it is gone."""
    tp = TopicPartition(record["source_topic"], record["partition"])
    consumer = AIOKafkaConsumer(**client, group_id=PROBE_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, record["offset"])
        batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
        for message in batch.get(tp, []):
            if message.offset == record["offset"]:
                return message.key, message.value
        return None, None
    finally:
        await consumer.stop()


async def replay(
    settings: Settings, letters: list[DeadLetter], *, dry_run: bool
) -> tuple[list[DeadLetter], list[DeadLetter], list[tuple[DeadLetter, str]]]:
    """Replay ``letters``; returns (replayed, already replayed before, could not replay)."""
    client = client_kwargs(settings)
    marker = replay_marker_spec(settings.deadletter_topic)
    await ensure_topics_async(settings, [marker])  # a stack made before replay existed lacks it
    marker_topic = marker.name
    done = {key.decode() for _, _, _, key, value in await _read_all(client, marker_topic, None)
            if key is not None and value is not None}
    replayed: list[DeadLetter] = []
    skipped = [d for d in letters if d.id in done]
    failed: list[tuple[DeadLetter, str]] = []
    producer = AIOKafkaProducer(**client, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            if letter.id in done:
                continue
            key, value = await _original(client, letter.record)
            if value is None:
                value = payload_bytes(letter.record)
                key = None if letter.record["key"] is None else letter.record["key"].encode()
            if value is None:
                failed.append((letter, "the original is gone from its topic and the dead letter "
                                       "holds only its start"))
                continue
            if not dry_run:
                await producer.send_and_wait(letter.record["source_topic"], value, key=key)
                mark = {"replayed_at": time.time(), "to": letter.record["source_topic"]}
                await producer.send_and_wait(marker_topic, orjson.dumps(mark),
                                             key=letter.id.encode())
            replayed.append(letter)
    finally:
        await producer.stop()
    return replayed, skipped, failed


_since = click.option("--since", "since_hours", type=float, default=24.0, show_default=True,
                      help="Look back this many hours (0: everything the topic keeps).")


def _hours(since_hours: float) -> float | None:
    return None if since_hours <= 0 else since_hours * 3600


@click.group()
def deadletter() -> None:
    """Refused messages: counts by reason, one in full, replay once the cause is fixed."""


@deadletter.command("list")
@_since
@click.option("--recent", default=10, show_default=True, help="Also list the newest N.")
def list_(since_hours: float, recent: int) -> None:
    """Dead letters counted by source topic and reason, and the newest ones."""
    settings = get_settings()
    letters = asyncio.run(read_dead_letters(settings, _hours(since_hours)))
    console = Console()
    counts = Table(title=f"Dead letters ({settings.deadletter_topic}, last {since_hours:g} h)")
    for column in ("source topic", "reason", "count"):
        counts.add_column(column, justify="right" if column == "count" else "left")
    for (topic, reason), n in sorted(count_by_topic_and_reason(letters).items()):
        counts.add_row(topic, reason, str(n))
    console.print(counts)
    newest = Table(title="Newest")
    for column in ("id", "rejected at", "source", "reason", "why"):
        newest.add_column(column, overflow="fold")
    for letter in sorted(letters, key=lambda d: d.timestamp_ms)[-recent:]:
        r = letter.record
        newest.add_row(letter.id, r["rejected_at"], f"{r['source_topic']}@{r['partition']}:"
                       f"{r['offset']}", r["reason"], r["message"])
    if recent > 0:
        console.print(newest)


@deadletter.command()
@click.argument("letter_id", metavar="PARTITION:OFFSET")
def show(letter_id: str) -> None:
    """One dead letter in full (its id from `nezlam deadletter list`)."""
    settings = get_settings()
    letters = asyncio.run(read_dead_letters(settings, None))
    found = next((d for d in letters if d.id == letter_id), None)
    if found is None:
        raise click.ClickException(f"no dead letter {letter_id} on {settings.deadletter_topic}")
    click.echo(orjson.dumps(found.record, option=orjson.OPT_INDENT_2).decode())


@deadletter.command("replay")
@_since
@click.option("--reason", help="Only dead letters of this reason (e.g. unknown_point).")
@click.option("--topic", help="Only dead letters from this source topic.")
@click.option("--id", "ids", multiple=True, help="Only these dead letters (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, send nothing.")
def replay_command(
    since_hours: float, reason: str | None, topic: str | None, ids: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Send selected dead letters' originals back to their topics (each at most once)."""
    if reason is None and topic is None and not ids:
        raise click.UsageError("choose what to replay: --reason, --topic and/or --id")
    settings = get_settings()
    letters = select(asyncio.run(read_dead_letters(settings, _hours(since_hours))),
                     reason=reason, topic=topic)
    if ids:
        letters = [d for d in letters if d.id in set(ids)]
    replayed, skipped, failed = asyncio.run(replay(settings, letters, dry_run=dry_run))
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {len(replayed)}, already replayed before {len(skipped)}, "
               f"could not replay {len(failed)}")
    for letter, why in failed:
        click.echo(f"  {letter.id}: {why}", err=True)
