"""Helpers for tests that run a real worker against the local Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings
from streams.kafka import offsets as kafka_offsets
from streams.kafka.client import client_kwargs
from streams.stack.process import stop_child

T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 60.0,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` (and what
    ``explain`` says of the state then) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            details = f"\n{explain()}" if explain else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{details}")
        time.sleep(0.25)


def produce(settings: Settings, messages: Iterable[tuple[str, str | None, Any]]) -> None:
    """Send (topic, key, value) messages; dict values become JSON, bytes go as they are."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            sent = []
            for topic, key, value in messages:  # in order per partition, acknowledged together
                raw = value if isinstance(value, bytes) else orjson.dumps(value)
                sent.append(await producer.send(topic, raw, key=key.encode() if key else None))
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())


def end_offsets(settings: Settings, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The current end offset of every partition of ``topics``."""
    return asyncio.run(kafka_offsets.end_offsets(client_kwargs(settings), topics))


def _probe_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=kafka_offsets.PROBE_GROUP,
        enable_auto_commit=False,
    )


Record = tuple[bytes | None, bytes]


def read_from(settings: Settings, start: dict[TopicPartition, int]) -> list[Record]:
    """Every (key, value) from the given offsets up to the current end."""

    async def read() -> list[Record]:
        consumer = _probe_consumer(settings)
        await consumer.start()
        try:
            consumer.assign(list(start))
            ends = await consumer.end_offsets(list(start))
            records: list[Record] = []
            for tp, offset in start.items():
                consumer.seek(tp, offset)
            while [tp for tp in start if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                for rows in batch.values():
                    records.extend((r.key, r.value) for r in rows)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(read())


Offsets = dict[TopicPartition, int]


def committed(settings: Settings, group: str, tps: Sequence[TopicPartition]) -> Offsets:
    """The consumer group's committed offsets (0 where none)."""
    return asyncio.run(kafka_offsets.committed_offsets(client_kwargs(settings), group, tps))


def commit_offsets(settings: Settings, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Commit ``offsets`` for a (new or stopped) group: its next worker starts there."""
    asyncio.run(kafka_offsets.commit_offsets(client_kwargs(settings), group, offsets))


def query(dsn: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one query and return its rows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


# The tests' scenarios happen on fixed dates (2026-01-01...), older than the week the
# contract accepts by default: a test worker accepts the last ten years.
FIXED_DATES = {"NEZLAM_MAX_EVENT_AGE_SECONDS": str(10 * 365 * 86400)}


class Worker:
    """A real worker process (``nezlam worker``) with its own consumer group."""

    def __init__(
        self, env: dict[str, str], log: Path, *,
        command: Sequence[str] = (sys.executable, "-m", "streams.cli", "worker"),
        cwd: Path | None = None,
    ) -> None:
        self._env = env
        self._log = log
        self._command = list(command)
        self._cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker in the background."""
        with self._log.open("ab") as out:
            self.proc = subprocess.Popen(
                self._command, env={**os.environ, **FIXED_DATES, **self._env}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, cwd=self._cwd,
            )

    @property
    def group(self) -> str:
        """Its consumer group (``NEZLAM_APP_ID``)."""
        return self._env["NEZLAM_APP_ID"]

    @property
    def web_port(self) -> int:
        """The port of its HTTP server (/metrics)."""
        return int(self._env["NEZLAM_WEB_PORT"])

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Stop it (SIGTERM: a clean shutdown that commits; SIGKILL: a crash)."""
        if self.proc is not None:
            stop_child(self.proc, sig=sig, timeout=timeout)

    def counter(self, family: str) -> list[tuple[dict[str, str], float]]:
        """The samples (labels, value) of a counter family on the worker's /metrics."""
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return [
            (sample.labels, sample.value)
            for found in text_string_to_metric_families(text) if found.name == family
            for sample in found.samples if sample.name.endswith("_total")
        ]

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log, for failure messages."""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
