"""Quiet outages: a few lines an operator reads instead of a flood."""

from __future__ import annotations

import logging

from streams.kafka.outage import ClientNoiseFilter, OutageLog


def test_an_outage_logs_once_then_every_30_s_then_its_recovery() -> None:
    kafka = OutageLog("Kafka")
    lines = [kafka.failed(t / 10, "connection refused") for t in range(0, 400)]  # 40 s, 10/s
    lines.append(kafka.recovered(40.0))
    said = [line for line in lines if line is not None]
    assert said == [
        "Kafka unreachable (connection refused), retrying",
        "Kafka unreachable for 30 s, retrying",
        "Kafka reachable again after 40 s",
    ]
    assert kafka.recovered(41.0) is None  # said once
    assert kafka.failed(50.0) == "Kafka unreachable, retrying"  # a new outage


def test_a_reminder_records_no_failure() -> None:
    db = OutageLog("PostgreSQL")
    db.failed(0.0)
    assert db.reminder(10.0) is None
    assert db.reminder(31.0) == "PostgreSQL unreachable for 31 s, retrying"
    assert db.last_failure == 0.0


def _record(name: str, message: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_the_filter_swallows_client_connection_noise_and_reports_it() -> None:
    kafka = OutageLog("Kafka")
    noise = ClientNoiseFilter(kafka, clock=lambda: 5.0)
    unable = _record("aiokafka.conn", "Unable connect to node with id 1: ...")
    assert noise.filter(unable) is False
    assert kafka.down
    # while Kafka is down, the clients' other warnings say the same: dropped too
    assert noise.filter(_record("faust.transport.drivers.aiokafka", "Drain raised")) is False
    # our own lines and other libraries' lines always pass
    assert noise.filter(_record("streams.kafka.outage", "Kafka unreachable for 30 s, retrying"))
    assert noise.filter(_record("psycopg", "whatever"))
    kafka.recovered(9.0)
    assert noise.filter(_record("faust.worker", "Something else entirely"))
