"""The local Kafka of `nezlam stack up`: broker, contract topics, a message from kcat."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import DefaultPartitioner

from streams.config import Settings, get_settings
from streams.kafka.topic_admin import ensure_topics
from streams.kafka.topics import REGISTRY, TELEMETRY, all_topics
from streams.stack import kafka
from streams.stack.settings import get_stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The configured local stack, started if it is not running (cheap when it is)."""
    kafka.up(get_stack_settings())
    settings = get_settings()
    ensure_topics(settings)
    return settings


async def _cluster(settings: Settings) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        await admin.close()
    return cluster


async def _topics(settings: Settings, names: list[str]) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(names)
    finally:
        await admin.close()
    return described


async def _topic_config(settings: Settings, topic: str, key: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, {key: None})
        responses = await admin.describe_configs([resource])
    finally:
        await admin.close()
    (described,) = responses[0].to_object()["resources"]
    (entry,) = described["config_entries"]
    return str(entry["config_value"])


def test_broker_answers_metadata(settings: Settings) -> None:
    cluster = asyncio.run(_cluster(settings))
    assert len(cluster["brokers"]) == 1
    assert kafka.is_running(get_stack_settings())
    kafka.wait_ready(get_stack_settings(), timeout=5)


def test_contract_topics_exist_with_configured_partitions(settings: Settings) -> None:
    names = [spec.name for spec in all_topics(settings.deadletter_topic)]
    described = asyncio.run(_topics(settings, names))
    partitions = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    assert partitions == dict.fromkeys(names, settings.topic_partitions)


def test_registry_is_compacted_and_telemetry_expires(settings: Settings) -> None:
    assert asyncio.run(_topic_config(settings, REGISTRY, "cleanup.policy")) == "compact"
    retention = asyncio.run(_topic_config(settings, TELEMETRY, "retention.ms"))
    assert retention == str(settings.topic_retention_hours * 3_600_000)


def test_ensure_topics_leaves_existing_topics_alone(settings: Settings) -> None:
    assert ensure_topics(settings) == []


def test_message_from_kcat_is_consumed_on_the_java_partition(settings: Settings) -> None:
    """kcat (an outside producer) writes telemetry; aiokafka reads it back on murmur2's partition.

    librdkafka's default partitioner is not Java's: outside producers must pass
    ``-X partitioner=murmur2_random`` so a point's messages share a partition across topics.
    """
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is missing: apt-get install kcat")
    point_id = f"itest-{uuid.uuid4()}"
    # A complete, valid report: a pipeline running alongside accepts it rather than dead-letters it.
    message = {
        "point_id": point_id,
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "closed",
        "power": "grid",
        "generator_running": False,
        "fuel_level_l": None,
        "heating_on": None,
        "internet_up": None,
        "indoor_temp_c": None,
        "headcount": None,
    }
    received = asyncio.run(_produce_with_kcat_and_consume(settings, kcat, point_id, message))
    assert orjson.loads(received.value) == message
    expected = DefaultPartitioner()(point_id.encode(), list(range(settings.topic_partitions)), [])
    assert received.partition == expected


async def _produce_with_kcat_and_consume(
    settings: Settings, kcat: str, point_id: str, message: dict[str, object]
) -> ConsumerRecord[bytes, bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(TELEMETRY, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        # Start from the current end, so only this test's message and later ones are read.
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)
        line = point_id.encode() + b"|" + orjson.dumps(message) + b"\n"
        command = [kcat, "-b", ",".join(settings.kafka_bootstrap), "-P", "-t", TELEMETRY, "-K", "|",
                   "-X", "partitioner=murmur2_random"]  # fmt: skip
        await asyncio.to_thread(subprocess.run, command, input=line, check=True, timeout=30)
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key == point_id.encode():
                    return record
    finally:
        await consumer.stop()
    raise AssertionError("unreachable: the consumer loop ends only by returning or timing out")
