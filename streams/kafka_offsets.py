"""End offsets of whole topics, for progress views, lag figures and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

# The consumer only reads offsets and never commits. It has a group id all the same: aiokafka's
# group-less consumer can fail to stop when it has no assignment.
PROBE_GROUP = "nezlam-offsets-probe"


async def partitions(client: Mapping[str, Any], topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (from the cluster's metadata); ``client``: see
    :func:`streams.kafka_client.client_kwargs`."""
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], part["partition"])
        for topic in described
        for part in topic["partitions"]
    ]


async def end_offsets(
    client: Mapping[str, Any], topics: Sequence[str]
) -> dict[TopicPartition, int]:
    """The current end offset of every partition of ``topics``."""
    tps = await partitions(client, topics)
    consumer = AIOKafkaConsumer(**client, group_id=PROBE_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()
