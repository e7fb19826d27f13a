"""Integration fixtures: the real local services, started by `nezlam stack up` (make test does).

A fixture here checks a service and fails the run loudly when it is not reachable; it starts
nothing that `make test` already started, and each process it does start (a worker, the WASM
TimescaleDB) it starts once per session.
"""

from __future__ import annotations

# First of all, before anything reads the topic names: this run moves into the namespace
# ``test`` (``streams.stack.namespace``): topics ``test.*``, consumer groups and state topics
# ``nezlam-test*``, database ``nezlam_test``. The tests never touch what ``make run`` uses.
from streams.stack.namespace import enter

enter("test")

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config import Settings, get_settings
from streams.kafka import topics
from streams.kafka.topics import INPUT_TOPICS, REGISTRY, TELEMETRY
from streams.stack import namespace
from tests.integration.tsdb_wasm import free_port, tsdb_wasm_dsn  # noqa: F401 (a fixture)
from tests.integration.worker_process import (
    Worker,
    commit_offsets,
    end_offsets,
    produce,
    query,
    wait_for,
)

WORKER_GROUP = "nezlam-test-worker"
# Short silence thresholds, so that detecting a silent point takes seconds, not minutes.
SILENCE_AFTER = {"permanent": 20, "mobile": 20, "standby": 20}


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings of the test namespace (tests/integration/__init__.py enters it)."""
    settings = get_settings()
    if not settings.topic_prefix or settings.topic_prefix != topics.PREFIX:
        pytest.exit("the integration tests must run in a namespace of their own, in a pytest "
                    "process of their own (`pytest tests/integration`): the topic names were "
                    f"read with prefix {topics.PREFIX!r}, the settings say "
                    f"{settings.topic_prefix!r}", returncode=3)
    return settings


@pytest.fixture(scope="session")
def kafka(settings: Settings) -> str:
    """The bootstrap address of a reachable broker."""

    async def probe() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        await admin.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 15))
    except Exception as exc:
        pytest.exit(f"Kafka at {settings.kafka_bootstrap} is not reachable ({exc}); "
                    "run `nezlam stack up` (make test does)", returncode=3)
    namespace.prepare_topics(settings)
    return ",".join(settings.kafka_bootstrap)


@pytest.fixture(scope="session")
def admin_dsn(settings: Settings) -> str:
    """DSN of the test namespace's migrated database, with rights to read everything."""
    try:
        namespace.prepare_database(settings)
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable ({exc}); run `nezlam stack up` "
                    "(make test does)", returncode=3)
    return settings.admin_database_url


@pytest.fixture(scope="session")
def run_id() -> str:
    """A prefix that keeps this session's point ids apart from earlier runs' data."""
    return uuid.uuid4().hex[:8]


def registry_record(point_id: str, **overrides: object) -> dict[str, object]:
    """A valid registry message."""
    return {
        "point_id": point_id, "name": f"Test point {point_id}", "kind": "permanent",
        "oblast": "Київська", "hromada": "Бучанська", "lat": 50.54, "lon": 30.22,
        "capacity_people": 120, "fuel_tank_l": 200.0, **overrides,
    }


def telemetry_record(point_id: str, ts: str, **overrides: object) -> dict[str, object]:
    """A valid telemetry message."""
    return {
        "point_id": point_id, "ts": ts, "status": "open", "power": "generator",
        "generator_running": True, "fuel_level_l": 150.0, "heating_on": True,
        "internet_up": True, "indoor_temp_c": 19.5, "headcount": 12, **overrides,
    }


@pytest.fixture(scope="session")
def session_start(kafka: str, settings: Settings) -> dict[TopicPartition, int]:
    """The end offsets of the input topics before this session produced anything."""
    return end_offsets(settings, [spec.name for spec in INPUT_TOPICS])


@pytest.fixture(scope="session")
def worker(
    kafka: str, admin_dsn: str, settings: Settings, run_id: str,
    session_start: dict[TopicPartition, int], tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """One real worker for the session, in its own consumer group, ready to process."""
    state = tmp_path_factory.mktemp("worker")
    # Earlier local runs and benchmarks leave backlogs behind: the tests need only what they send.
    commit_offsets(settings, WORKER_GROUP, session_start)
    proc = Worker(
        {"NEZLAM_APP_ID": WORKER_GROUP, "NEZLAM_WEB_PORT": str(free_port()),
         "NEZLAM_STATE_DIR": str(state), "NEZLAM_SINK_BATCH_SECONDS": "0.2",
         "NEZLAM_SILENCE_AFTER_SECONDS": orjson.dumps(SILENCE_AFTER).decode(),
         "NEZLAM_LIVENESS_INTERVAL_SECONDS": "2"},
        Path(state) / "worker.log",
    )
    proc.start()
    wait_until_processing(proc, settings, admin_dsn, f"IT-{run_id}-probe")
    yield proc
    proc.stop()


def wait_until_processing(proc: Worker, settings: Settings, admin_dsn: str, probe_id: str) -> None:
    """Wait until a started worker has written a probe report (stop it and fail if it does not)."""
    produce(settings, [(REGISTRY, probe_id, registry_record(probe_id)),
                       (TELEMETRY, probe_id, telemetry_record(probe_id, "2026-01-01T00:00:00Z"))])
    try:
        wait_for(
            "the worker to write its first telemetry row",
            lambda: proc.alive() and query(
                admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = %s", [probe_id]),
            timeout=120,
        )
    except AssertionError as exc:
        proc.stop()
        raise AssertionError(f"{exc}\n--- worker log ---\n{proc.log_tail()}") from None


@pytest.fixture()
def wall_clock_worker_paused(worker: Worker) -> Iterator[None]:
    """The session's wall-clock worker would judge the same points on the wall clock and
    publish its own verdicts to points.state: pause it while an event-clock test runs."""
    worker.stop()
    yield
    worker.start()


def fresh_worker(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, name: str,
    start_at: dict[TopicPartition, int] | None = None, **env: str,
) -> Worker:
    """A started worker in a consumer group of its own (fresh state) that sees only messages
    after ``start_at`` (default: only new ones)."""
    group = f"nezlam-it-{name}-{uuid.uuid4().hex[:8]}"
    if start_at is None:
        start_at = end_offsets(settings, [s.name for s in INPUT_TOPICS])
    commit_offsets(settings, group, start_at)
    state = tmp_path_factory.mktemp(f"{name}-worker")
    proc = Worker({"NEZLAM_APP_ID": group, "NEZLAM_WEB_PORT": str(free_port()),
                   "NEZLAM_STATE_DIR": str(state), "NEZLAM_SINK_BATCH_SECONDS": "0.2", **env},
                  Path(state) / "worker.log")
    proc.start()
    return proc
