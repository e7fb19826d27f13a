"""End offsets of whole topics and a consumer group's committed offsets, for progress views,
lag figures, the benchmark and tests."""

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
    :func:`streams.kafka.client.client_kwargs`."""
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


async def committed_offsets(
    client: Mapping[str, Any], group: str, tps: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` has committed on ``tps`` (0 where it has none)."""
    consumer = AIOKafkaConsumer(**client, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def commit_offsets(
    client: Mapping[str, Any], group: str, offsets: Mapping[TopicPartition, int]
) -> None:
    """Commit ``offsets`` for a new or stopped ``group``: its next consumer starts there."""
    consumer = AIOKafkaConsumer(**client, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()
