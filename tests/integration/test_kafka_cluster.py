"""Kafka as production runs it: three brokers, replication 3, SCRAM logins and ACLs.

This module starts a cluster of its own (one controller and three brokers, SASL_PLAINTEXT,
on free ports, under a temporary directory) and stops it at the end; the rest of the suite
keeps the local stack's single PLAINTEXT broker. Topics have few partitions and the loads are
small, to keep the module's runtime to a few minutes on CI.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka import KafkaError as CKError

from streams.config import Settings
from streams.kafka.client import client_kwargs
from streams.kafka.topic_admin import ensure_topics
from streams.kafka.topics import ALERTS, POINT_STATE, REGISTRY, TELEMETRY, changelog_topics
from streams.simulate.producer import Publisher, partition_for
from streams.stack import kafka as local_kafka
from streams.stack.kafka_config import nodes
from streams.stack.settings import StackSettings
from tests.integration.conftest import registry_record, telemetry_record
from tests.integration.tsdb_wasm import free_port
from tests.integration.worker_process import Worker, query, wait_for

pytestmark = pytest.mark.integration

PARTITIONS = 3
DENIED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)
NO_POWER = {"power": "none", "generator_running": False}


@pytest.fixture(scope="module")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory,
            run_id: str) -> Iterator[StackSettings]:
    """A running three-broker SASL cluster with the contract topics and the ACLs."""
    root = tmp_path_factory.mktemp("kafka-cluster")
    brokers = [free_port() for _ in range(3)]
    stack = StackSettings(
        kafka_brokers=3, kafka_bootstrap=[f"127.0.0.1:{port}" for port in brokers],
        kafka_controller_port=free_port(), kafka_security_protocol="SASL_PLAINTEXT",
        kafka_passfile=root / "kafka-passwords", state_dir=root, topic_partitions=PARTITIONS,
        topic_replication=3, app_id=f"nezlam-test-cluster-{run_id}",
    )
    try:
        local_kafka.up(stack)
        ensure_topics(local_kafka.admin_settings(stack),
                      None)  # contract topics and this worker's changelog, replicated 3 times
        yield stack
    finally:
        local_kafka.down(stack)


def as_user(cluster: StackSettings, user: str, **overrides: Any) -> Settings:
    """Client settings of ``user`` on the cluster (its password from the cluster's file)."""
    return Settings(kafka_bootstrap=cluster.kafka_bootstrap,
                    kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username=user,
                    kafka_passfile=cluster.kafka_passfile, topic_partitions=PARTITIONS,
                    topic_replication=3, **overrides)


def user_env(cluster: StackSettings, user: str) -> dict[str, str]:
    """The environment that points a process at the cluster as ``user``."""
    return {"NEZLAM_KAFKA_BOOTSTRAP": ",".join(cluster.kafka_bootstrap),
            "NEZLAM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "NEZLAM_KAFKA_SASL_USERNAME": user,
            "NEZLAM_KAFKA_PASSFILE": str(cluster.kafka_passfile),
            "NEZLAM_TOPIC_PARTITIONS": str(PARTITIONS), "NEZLAM_TOPIC_REPLICATION": "3"}


def publish(settings: Settings, messages: list[tuple[str, str, Any]]) -> None:
    """Produce with the simulator's publisher (acks=all, idempotent)."""

    async def send() -> None:
        async with Publisher(client_kwargs(settings), [t for t, _, _ in messages]) as out:
            for topic, key, value in messages:
                out.add(topic, key.encode(), orjson.dumps(value))

    asyncio.run(send())


def confluent_config(settings: Settings) -> dict[str, Any]:
    password = settings.kafka_sasl_password
    assert password is not None
    return {"bootstrap.servers": ",".join(settings.kafka_bootstrap),
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": settings.kafka_sasl_username,
            "sasl.password": password.get_secret_value()}


def produce_error(settings: Settings, topic: str) -> type[KafkaError] | None:
    """The error of producing one record to ``topic`` as ``settings``' user (None: taken)."""

    async def send() -> type[KafkaError] | None:
        producer = AIOKafkaProducer(**client_kwargs(settings), acks="all",
                                    enable_idempotence=True, request_timeout_ms=15000)
        try:
            await producer.start()
            await producer.send_and_wait(topic, b"{}", key=b"acl-probe")
        except KafkaError as exc:
            return type(exc)
        finally:
            await producer.stop()
        return None

    return asyncio.run(send())


def consume_error(settings: Settings, topic: str) -> int | None:
    """The error code of reading ``topic`` as ``settings``' user (None: no error): where its
    partition 0 ends, then a fetch from its start (in a group readers may use)."""
    consumer = Consumer({**confluent_config(settings), "group.id": "nezlam-reader-acl-probe",
                         "enable.auto.commit": False})
    try:
        try:
            consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=15)
        except KafkaException as exc:
            return int(exc.args[0].code())
        consumer.assign([TopicPartition(topic, 0, 0)])
        message = consumer.poll(3.0)
        if message is not None and message.error() is not None:
            return int(message.error().code())
        return None
    finally:
        consumer.close()


def test_a_gateway_writes_inputs_but_cannot_read_alerts_or_write_point_states(
    cluster: StackSettings,
) -> None:
    gateway = as_user(cluster, "nezlam-gateway")
    assert produce_error(gateway, TELEMETRY) is None
    assert produce_error(gateway, POINT_STATE) is TopicAuthorizationFailedError
    # Denied: the brokers hide the topic's metadata from it (librdkafka: unknown partition) or
    # refuse it outright; a reader asking the same gets an answer (the next test).
    assert consume_error(gateway, ALERTS) in (CKError.TOPIC_AUTHORIZATION_FAILED,
                                              CKError._UNKNOWN_PARTITION)


def test_an_alerts_consumer_reads_but_cannot_produce(cluster: StackSettings) -> None:
    reader = as_user(cluster, "nezlam-reader")
    assert consume_error(reader, ALERTS) in (None, CKError._PARTITION_EOF)
    # Without Write on any topic it cannot even start an idempotent producer.
    assert produce_error(reader, ALERTS) in DENIED
    assert produce_error(reader, TELEMETRY) in DENIED


def _nezlam(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120, check=False)


def test_a_wrong_password_is_refused_with_a_clear_error(cluster: StackSettings) -> None:
    env = {**user_env(cluster, "nezlam-operator"), "NEZLAM_KAFKA_SASL_PASSWORD": "wrong"}
    result = _nezlam(env, "deadletter", "list")
    assert result.returncode == 1
    assert "Kafka refused the login of 'nezlam-operator'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # the right one (from the cluster's password file) is taken
    assert _nezlam(user_env(cluster, "nezlam-operator"), "deadletter", "list").returncode == 0


def test_the_simulator_publishes_only_as_itself(cluster: StackSettings, run_id: str) -> None:
    point = f"IT-{run_id}-simacl"
    publish(as_user(cluster, "nezlam-simulator"), [(REGISTRY, point, registry_record(point))])
    with pytest.raises(KafkaError):
        publish(as_user(cluster, "nezlam-reader"), [(REGISTRY, point, registry_record(point))])


def test_the_worker_runs_only_as_itself(cluster: StackSettings, run_id: str,
                                        tmp_path: Path) -> None:
    # The reader has no right to the worker's group or topics: the worker stops at once.
    env = {**user_env(cluster, "nezlam-reader"), "NEZLAM_APP_ID": cluster.app_id,
           "NEZLAM_STATE_DIR": str(tmp_path), "NEZLAM_WEB_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=120, check=False)
    assert result.returncode != 0
    assert "Kafka denied nezlam-reader" in result.stderr + result.stdout


# --- faults under load -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster_worker(cluster: StackSettings, admin_dsn: str, run_id: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker on the cluster, as nezlam-worker, processing."""
    state = tmp_path_factory.mktemp("cluster-worker")
    ensure_topics(local_kafka.admin_settings(cluster), changelog_topics(cluster.app_id))
    proc = Worker({**user_env(cluster, "nezlam-worker"), "NEZLAM_APP_ID": cluster.app_id,
                   "NEZLAM_WEB_PORT": str(free_port()), "NEZLAM_STATE_DIR": str(state),
                   "NEZLAM_SINK_BATCH_SECONDS": "0.2", "NEZLAM_LIVENESS_INTERVAL_SECONDS": "2"},
                  Path(state) / "worker.log")
    proc.start()
    probe = f"IT-{run_id}-cluster-probe"
    simulator = as_user(cluster, "nezlam-simulator")
    publish(simulator, [(REGISTRY, probe, registry_record(probe)),
                        (TELEMETRY, probe, telemetry_record(probe, "2026-01-01T00:00:00Z"))])
    try:
        wait_for("the cluster worker's first row", lambda: proc.alive() and query(
            admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = %s", [probe]), timeout=120)
    except AssertionError as exc:
        proc.stop()
        raise AssertionError(f"{exc}\n{proc.log_tail()}") from None
    yield proc
    proc.stop()


def _leaders(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> leader broker id."""

    async def describe() -> dict[int, int]:
        admin = AIOKafkaAdminClient(**client_kwargs(settings))
        await admin.start()
        try:
            [found] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return {p["partition"]: p["leader"] for p in found["partitions"]}

    return asyncio.run(describe())


def _reports(points: list[str], day: int, minutes: range) -> list[tuple[str, str, Any]]:
    return [(TELEMETRY, p, telemetry_record(p, f"2026-04-{day:02d}T{m // 60:02d}:{m % 60:02d}:00Z",
                                            fuel_level_l=190.0 - m * 0.5, **NO_POWER))
            for m in minutes for p in points]


class Stream:
    """Reports of ``points`` produced in rounds (one per point and minute) from a thread."""

    def __init__(self, settings: Settings, points: list[str], day: int, rounds: int,
                 first: int = 0) -> None:
        self.settings, self.points, self.day, self.rounds = settings, points, day, rounds
        self.first = first
        self.done_rounds = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for minute in range(self.first, self.first + self.rounds):
                publish(self.settings, _reports(self.points, self.day, range(minute, minute + 1)))
                self.done_rounds = minute + 1 - self.first
                time.sleep(0.2)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self) -> None:
        self._thread.join(180)
        assert self.error is None, f"the producer failed: {self.error!r}"

    @property
    def produced(self) -> int:
        return self.rounds * len(self.points)


def _rows(admin_dsn: str, points: list[str]) -> tuple[int, int]:
    """Telemetry rows of ``points``, and distinct (point, ts) among them."""
    total, distinct = query(admin_dsn, "SELECT count(*), count(DISTINCT (point_id, ts)) "
                            "FROM telemetry WHERE point_id = ANY(%s)", [points])[0]
    return int(total), int(distinct)


def _assert_complete(admin_dsn: str, points: list[str], stream: Stream,
                     produced: int | None = None) -> None:
    """Every report once, a forecast of every point's last report, one no_power alert each."""
    expected = stream.produced if produced is None else produced
    wait_for("every report in the database",
             lambda: _rows(admin_dsn, points)[0] >= expected or None, timeout=120)
    total, distinct = _rows(admin_dsn, points)
    assert (total, distinct) == (expected, expected)
    last = stream.first + stream.rounds - 1
    last_ts = f"2026-04-{stream.day:02d}T{last // 60:02d}:{last % 60:02d}:00Z"
    wait_for("a forecast of every point's last report", lambda: query(
        admin_dsn, "SELECT count(DISTINCT point_id) FROM fuel_forecast WHERE point_id = ANY(%s) "
        "AND ts = %s", [points, last_ts])[0][0] == len(points) or None, timeout=60)
    fired = wait_for("every point's no_power alert", lambda: (rows := query(
        admin_dsn, "SELECT point_id, count(*) FROM alert_events WHERE point_id = ANY(%s) "
        "AND alertname = 'no_power' AND status = 'firing' GROUP BY point_id", [points]))
        and len(rows) == len(points) and rows, timeout=60)
    assert [row for row in fired if row[1] != 1] == []


def _points(run_id: str, name: str, count: int = 9) -> list[str]:
    return [f"IT-{run_id}-{name}-{i}" for i in range(count)]


def test_a_busy_partitions_leader_killed_mid_stream_loses_and_doubles_nothing(
    cluster: StackSettings, cluster_worker: Worker, admin_dsn: str, run_id: str,
) -> None:
    simulator = as_user(cluster, "nezlam-simulator")
    points = _points(run_id, "leaderkill")
    publish(simulator, [(REGISTRY, p, registry_record(p)) for p in points])
    # the partition with the most of these points (the busiest), and its leader
    leaders = _leaders(simulator, TELEMETRY)
    partition = {p: partition_for(p.encode(), sorted(leaders)) for p in points}
    busiest, _ = Counter(partition.values()).most_common(1)[0]
    busy_points = [p for p in points if partition[p] == busiest]
    victim = next(n for n in nodes(cluster) if n.node_id == leaders[busiest])
    stream = Stream(simulator, points, day=5, rounds=40)  # 40 minutes of reports, ~15 s
    log_before = len(cluster_worker.log_tail(10**9).splitlines())
    stream.start()
    wait_for("a quarter of the stream", lambda: stream.done_rounds >= 10 or None, timeout=60)
    local_kafka.stop_node(victim, signal.SIGKILL)
    killed = time.monotonic()
    after = stream.done_rounds + 1  # reports of this minute on are produced after the kill
    after_ts = f"2026-04-05T00:{after:02d}:00Z"
    # progress resumes: the busiest partition's reports produced after its leader died arrive
    wait_for("the worker's progress after the leader's death", lambda: query(
        admin_dsn, "SELECT 1 FROM telemetry WHERE point_id = ANY(%s) AND ts >= %s",
        [busy_points, after_ts]), timeout=90)
    resumed = time.monotonic() - killed
    stream.join()
    _assert_complete(admin_dsn, points, stream)
    assert cluster_worker.alive(), cluster_worker.log_tail()
    logged = cluster_worker.log_tail(10**9).splitlines()[log_before:]
    print(f"\nleader kill: broker {victim.node_id} (leader of {TELEMETRY}[{busiest}]) SIGKILLed; "
          f"worker progress resumed after {resumed:.1f} s; {stream.produced} reports, "
          f"0 lost, 0 doubled; worker logged {len(logged)} lines:\n" + "\n".join(logged[-15:]))
    assert len(logged) < 40, "\n".join(logged)
    local_kafka.start_node(cluster, victim)
    local_kafka.wait_ready(cluster, 90)



def _under_replicated(settings: Settings, topics: list[str]) -> int:
    """Partitions of ``topics`` whose in-sync replicas are fewer than their replicas."""

    async def describe() -> int:
        admin = AIOKafkaAdminClient(**client_kwargs(settings))
        await admin.start()
        try:
            found = await admin.describe_topics(topics)
        finally:
            await admin.close()
        return sum(len(p["isr"]) < len(p["replicas"]) for t in found for p in t["partitions"])

    return asyncio.run(describe())


def _refusal_without_retries(settings: Settings) -> int | None:
    """The error code of one ``acks=all`` record sent with no retries (None: taken)."""
    from confluent_kafka import Producer  # only this probe produces with the C client

    producer = Producer({**confluent_config(settings), "acks": "all", "retries": 0,
                         "enable.idempotence": False, "message.timeout.ms": 20000})
    errors: list[int | None] = []
    producer.produce(TELEMETRY, b"{}", key=b"isr-probe",
                     on_delivery=lambda err, _msg: errors.append(err and int(err.code())))
    producer.flush(30)
    return errors[0] if errors else None


def _brokers(cluster: StackSettings) -> list[Any]:
    return [n for n in nodes(cluster) if n.broker_port is not None]


def test_two_brokers_down_refuse_acks_all_and_the_worker_waits_without_losing(
    cluster: StackSettings, cluster_worker: Worker, admin_dsn: str, run_id: str,
) -> None:
    simulator = as_user(cluster, "nezlam-simulator")
    points = _points(run_id, "twodown")
    publish(simulator, [(REGISTRY, p, registry_record(p)) for p in points])
    before = Stream(simulator, points, day=6, rounds=5)
    before.start()
    before.join()
    wait_for("the reports before the outage", lambda: _rows(admin_dsn, points)[0]
             == before.produced or None, timeout=60)
    log_before = len(cluster_worker.log_tail(10**9).splitlines())

    down = _brokers(cluster)[:2]
    for node in down:
        local_kafka.stop_node(node)  # controlled: the survivor leads every partition at once
    try:
        # One in-sync replica is below min.insync.replicas=2: acks=all is refused outright.
        refusal = wait_for("acks=all refused for lack of in-sync replicas",
                           lambda: _refusal_without_retries(simulator), timeout=60)
        assert refusal == CKError.NOT_ENOUGH_REPLICAS, refusal
        # A gateway content with acks=1 still gets through: input the worker finishes only
        # once its acks=all writes (state, outputs) and its commits are taken again.
        async def send_acks_one() -> None:
            producer = AIOKafkaProducer(**client_kwargs(simulator), acks=1)
            await producer.start()
            try:
                for topic, key, value in _reports(points, 6, range(5, 10)):
                    await producer.send(topic, orjson.dumps(value), key=key.encode())
                await producer.flush()
            finally:
                await producer.stop()

        asyncio.run(send_acks_one())
        wait_for("the worker saying it waits for Kafka", lambda: "Kafka unreachable" in "\n".join(
            cluster_worker.log_tail(10**9).splitlines()[log_before:]) or None, timeout=90,
            explain=cluster_worker.log_tail)
        assert cluster_worker.alive(), cluster_worker.log_tail()
    finally:
        for node in down:
            local_kafka.start_node(cluster, node)
        local_kafka.wait_ready(cluster, 90)

    during = Stream(simulator, points, day=6, rounds=10)  # the 5 before, the 5 in the outage
    _assert_complete(admin_dsn, points, during)
    logged = cluster_worker.log_tail(10**9).splitlines()[log_before:]
    print(f"\ntwo brokers down: acks=all refused (NOT_ENOUGH_REPLICAS); the worker waited and "
          f"logged {len(logged)} lines:\n" + "\n".join(logged[-10:]))
    assert cluster_worker.alive()


def test_a_rolling_restart_under_load_loses_and_doubles_nothing(
    cluster: StackSettings, cluster_worker: Worker, admin_dsn: str, run_id: str,
) -> None:
    simulator = as_user(cluster, "nezlam-simulator")
    admin = local_kafka.admin_settings(cluster)
    points = _points(run_id, "rolling")
    publish(simulator, [(REGISTRY, p, registry_record(p)) for p in points])
    stream = Stream(simulator, points, day=7, rounds=60)  # about 20 s of reports
    stream.start()
    for node in _brokers(cluster):
        wait_for("every partition in sync", lambda: _under_replicated(
            admin, [TELEMETRY, POINT_STATE, ALERTS]) == 0 or None, timeout=90)
        local_kafka.stop_node(node)
        local_kafka.start_node(cluster, node)
        local_kafka.wait_ready(cluster, 90)
    stream.join()
    _assert_complete(admin_dsn, points, stream)
    assert cluster_worker.alive(), cluster_worker.log_tail()
