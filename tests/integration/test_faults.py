"""Faults on the real stack: PostgreSQL away, the broker restarted, a worker killed.

These tests stop and start the services of THIS checkout's local stack (`nezlam stack`, on the
ports of the settings); they skip where the services are not the local stack's (e.g. run
against a shared broker).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from streams.config import Settings
from streams.kafka.topics import INPUT_TOPICS, REGISTRY, TELEMETRY
from streams.stack import kafka as local_kafka
from streams.stack import postgres as local_postgres
from streams.stack.settings import StackSettings, get_stack_settings
from tests.integration.alertmanager_harness import AlertmanagerProcess, WebhookReceiver
from tests.integration.conftest import (
    registry_record,
    telemetry_record,
    wait_until_processing,
)
from tests.integration.tsdb_wasm import free_port
from tests.integration.worker_process import (
    Worker,
    commit_offsets,
    end_offsets,
    produce,
    query,
    wait_for,
)

pytestmark = pytest.mark.integration

# The failover promise (docs/operations.md, "When things fail").
FAILOVER_SECONDS = 15


def _metric_sum(worker: Worker, family_name: str) -> float:
    """The sum of every sample of a counter family on the worker's /metrics."""
    return sum(value for _, value in worker.counter(family_name))


def _reports(point: str, day: int, minutes: range) -> list[tuple[str, str, object]]:
    return [(TELEMETRY, point, telemetry_record(
        point, f"2026-03-{day:02d}T{m // 60:02d}:{m % 60:02d}:00Z", fuel_level_l=190.0 - m * 0.1))
        for m in minutes]


def _telemetry_rows(admin_dsn: str, points: list[str]) -> int:
    count: int = query(admin_dsn, "SELECT count(*) FROM telemetry WHERE point_id = ANY(%s)",
                       [points])[0][0]
    return count


@pytest.fixture
def local_stack(admin_dsn: str) -> Iterator[StackSettings]:
    """Skip unless Kafka runs from this checkout's stack; bring both back up afterwards."""
    stack = get_stack_settings()
    if not local_kafka.is_running(stack):
        pytest.skip("the broker is not this checkout's local stack (`nezlam stack up`)")
    yield stack
    local_kafka.up(stack)
    local_postgres.up(stack)


def test_postgresql_stopped_for_20_s_loses_and_duplicates_nothing(
    local_stack: StackSettings, worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-pgdown"
    produce(settings, [(REGISTRY, point, registry_record(point))])
    produce(settings, _reports(point, 1, range(100)))
    wait_for("the first half", lambda: _telemetry_rows(admin_dsn, [point]) == 100 or None)
    errors_before = _metric_sum(worker, "nezlam_sink_errors")

    local_postgres.down(local_stack)
    stopped = time.monotonic()
    try:
        produce(settings, _reports(point, 1, range(100, 200)))
        wait_for("the sink-error counter to rise while PostgreSQL is down",
                 lambda: _metric_sum(worker, "nezlam_sink_errors") > errors_before, timeout=30)
        # The outage lasts 20 s whatever the counter did, as the promise says.
        time.sleep(max(0.0, 20 - (time.monotonic() - stopped)))
    finally:
        local_postgres.up(local_stack)

    wait_for("every row after PostgreSQL came back",
             lambda: _telemetry_rows(admin_dsn, [point]) == 200 or None, timeout=90)
    distinct = query(admin_dsn, "SELECT count(DISTINCT ts) FROM telemetry WHERE point_id = %s",
                     [point])[0][0]
    assert distinct == 200
    assert worker.alive()


def test_broker_restarted_mid_stream_loses_nothing_and_logs_quietly(
    local_stack: StackSettings, worker: Worker, settings: Settings, admin_dsn: str, run_id: str
) -> None:
    point = f"IT-{run_id}-kafkadown"
    produce(settings, [(REGISTRY, point, registry_record(point))])
    produce(settings, _reports(point, 2, range(100)))
    log_lines_before = len(worker.log_tail(10**9).splitlines())

    local_kafka.down(local_stack)
    local_kafka.up(local_stack)
    produce(settings, _reports(point, 2, range(100, 200)))

    wait_for("every row after the broker came back",
             lambda: _telemetry_rows(admin_dsn, [point]) == 200 or None, timeout=120)
    assert worker.alive()
    logged = len(worker.log_tail(10**9).splitlines()) - log_lines_before
    # Quiet outages: a few lines per component, not the thousands aiokafka writes unfiltered.
    assert logged < 100, worker.log_tail(120)


def _group_assignment(settings: Settings, group: str) -> dict[str, set[TopicPartition]]:
    """Each member of ``group`` and the partitions the group leader assigned to it."""

    async def describe() -> dict[str, set[TopicPartition]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        members: dict[str, set[TopicPartition]] = {}
        for described in response.to_object()["groups"]:
            if described["state"] != "Stable":
                return {}  # a rebalance is under way: nobody owns anything for certain
            for member in described["members"]:
                assignment = ConsumerProtocolMemberAssignment.decode(member["member_assignment"])
                members[member["member_id"]] = set(assignment.partitions())
        return members

    return asyncio.run(describe())


def _group_worker(group: str, name: str, tmp_path_factory: pytest.TempPathFactory,
                  **env: str) -> Worker:
    """A worker of ``group`` with its own state directory and web port (not started)."""
    state = tmp_path_factory.mktemp(f"failover-{name}")
    return Worker(
        {"NEZLAM_APP_ID": group, "NEZLAM_WEB_PORT": str(free_port()),
         "NEZLAM_STATE_DIR": str(state / "missing" / "yet"),  # created by the worker
         "NEZLAM_SINK_BATCH_SECONDS": "0.2",
         # the kinds' default silence thresholds (minutes): reports a minute apart are no
         # silences, so a no_power condition stays pending until it fires
         "NEZLAM_LIVENESS_INTERVAL_SECONDS": "2", **env},
        Path(state) / "worker.log",
    )


def _fresh_group(settings: Settings, run_id: str, name: str) -> str:
    """A consumer group of its own, starting at the input topics' ends."""
    group = f"nezlam-test-{name}-{run_id}"
    commit_offsets(settings, group, end_offsets(settings, [spec.name for spec in INPUT_TOPICS]))
    return group


def _wait_until_shared(settings: Settings, group: str) -> None:
    wait_for("both workers to share the partitions",
             lambda: len(_group_assignment(settings, group)) == 2 or None, timeout=90)


@pytest.fixture
def two_workers(
    kafka: str, admin_dsn: str, settings: Settings, run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Worker, Worker, str]]:
    """Two workers in a group of their own, both processing."""
    group = _fresh_group(settings, run_id, "failover")
    workers = [_group_worker(group, name, tmp_path_factory) for name in ("a", "b")]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            wait_until_processing(worker, settings, admin_dsn, f"IT-{run_id}-fo-probe")
        _wait_until_shared(settings, group)
        yield workers[0], workers[1], group
    finally:
        for worker in workers:
            worker.stop()


def test_a_killed_workers_partitions_move_to_the_survivor_and_nothing_is_lost(
    two_workers: tuple[Worker, Worker, str], settings: Settings, admin_dsn: str, run_id: str
) -> None:
    victim, survivor, group = two_workers
    points = [f"IT-{run_id}-fo-{i}" for i in range(24)]  # keys over (nearly) every partition
    produce(settings, [(REGISTRY, p, registry_record(p)) for p in points])
    # open, no grid, generator stopped: a no_power alert per point, which must fire once
    no_power = {"power": "none", "generator_running": False}
    first = [(TELEMETRY, p, telemetry_record(p, f"2026-03-03T00:{m:02d}:00Z",
                                             fuel_level_l=190.0 - m, **no_power))
             for m in range(10) for p in points]
    produce(settings, first)
    wait_for("the first reports", lambda: _telemetry_rows(admin_dsn, points) == len(first)
             or None, timeout=60)

    victim.stop(signal.SIGKILL)
    killed = time.monotonic()
    wait_for("the survivor to own every input partition",
             lambda: _owns_every_input_partition(settings, group), timeout=FAILOVER_SECONDS)
    took = time.monotonic() - killed
    second = [(TELEMETRY, p, telemetry_record(p, f"2026-03-03T00:{m:02d}:00Z",
                                              fuel_level_l=190.0 - m, **no_power))
              for m in range(10, 20) for p in points]
    produce(settings, second)

    expected = len(first) + len(second)
    wait_for("every report after the failover",
             lambda: _telemetry_rows(admin_dsn, points) == expected or None, timeout=90)
    assert survivor.alive(), survivor.log_tail()
    assert took <= FAILOVER_SECONDS
    # forecasts continue from the restored state: the last report of every point has one (a
    # batch writes its telemetry rows before it computes the forecasts)
    wait_for("a forecast of every point's last report", lambda: query(
        admin_dsn, "SELECT count(*) FROM fuel_forecast WHERE point_id = ANY(%s) "
        "AND ts = '2026-03-03T00:19:00Z'", [points])[0][0] == len(points) or None, timeout=30)
    # no alert fires twice: one firing event per alert, whichever worker raised it
    fired = wait_for("the scenario's no_power alerts", lambda: query(
        admin_dsn, "SELECT fingerprint, count(*) FROM alert_events WHERE point_id = ANY(%s) "
        "AND alertname = 'no_power' AND status = 'firing' GROUP BY fingerprint", [points]),
        timeout=60)
    assert [row for row in fired if row[1] > 1] == []


def _owns_every_input_partition(settings: Settings, group: str) -> bool:
    members = _group_assignment(settings, group)
    if len(members) != 1:
        return False
    [owned] = members.values()
    wanted = set(end_offsets(settings, [spec.name for spec in INPUT_TOPICS]))
    return wanted <= owned


def _active_no_power(alertmanager_url: str, points: list[str]) -> set[str]:
    """The points whose no_power alert Alertmanager holds as active now."""
    with urllib.request.urlopen(f"{alertmanager_url}/api/v2/alerts?active=true") as response:
        alerts = json.load(response)
    return {a["labels"]["point_id"] for a in alerts
            if a["labels"].get("alertname") == "no_power" and a["labels"]["point_id"] in points}


def test_a_worker_that_loses_points_in_a_rebalance_stops_sending_their_alerts(
    kafka: str, admin_dsn: str, settings: Settings, run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    group = _fresh_group(settings, run_id, "takeover")
    with WebhookReceiver() as receiver:
        alertmanager = AlertmanagerProcess(tmp_path_factory.mktemp("am"), receiver.url("/"))
        alertmanager.start()
        # Re-sends every second; a resolution is repeated for 2 s only, so a stale firing
        # re-send would win within the test (with the defaults: after 5 minutes, for good).
        env = {"NEZLAM_ALERTMANAGER_URLS": alertmanager.url,
               "NEZLAM_ALERTMANAGER_RESEND_SECONDS": "1",
               "NEZLAM_ALERTMANAGER_RESOLVED_RESEND_SECONDS": "2"}
        first, second = (_group_worker(group, f"takeover-{name}", tmp_path_factory, **env)
                         for name in ("a", "b"))
        try:
            first.start()
            wait_until_processing(first, settings, admin_dsn, f"IT-{run_id}-to-probe")
            points = [f"IT-{run_id}-to-{i}" for i in range(24)]  # over (nearly) every partition
            produce(settings, [(REGISTRY, p, registry_record(p)) for p in points])
            no_power = {"power": "none", "generator_running": False}
            produce(settings, [(TELEMETRY, p, telemetry_record(
                p, f"2026-03-04T00:{m:02d}:00Z", fuel_level_l=190.0 - m, **no_power))
                for m in range(10) for p in points])
            wait_for("the first worker's no_power alerts in Alertmanager",
                     lambda: _active_no_power(alertmanager.url, points) == set(points) or None,
                     timeout=60)

            second.start()  # a rebalance gives it about half the points, firing alerts and all
            _wait_until_shared(settings, group)
            produce(settings, [(TELEMETRY, p, telemetry_record(
                p, f"2026-03-04T00:{m:02d}:00Z", fuel_level_l=190.0 - m, power="grid"))
                for m in range(10, 20) for p in points])  # no_power clears after 5 min

            # Each worker resolves the points it owns now; the first must not go on re-sending
            # the alerts of the points it lost (they would fire again every second).
            wait_for("every no_power alert resolved in Alertmanager",
                     lambda: not _active_no_power(alertmanager.url, points) or None, timeout=150,
                     explain=lambda: f"still active: {_active_no_power(alertmanager.url, points)}"
                     f"\n--- first ---\n{first.log_tail(40)}\n--- second ---\n"
                     f"{second.log_tail(40)}")
            deadline = time.monotonic() + 6  # past the resolutions' repeats, six re-sends
            while time.monotonic() < deadline:
                assert _active_no_power(alertmanager.url, points) == set(), first.log_tail(40)
                time.sleep(0.5)
            assert first.alive() and second.alive()
        finally:
            for worker in (first, second):
                worker.stop()
            alertmanager.stop()
