"""Create the contract's Kafka topics (``streams.kafka.topics``) on the cluster at
``kafka_bootstrap``.

Existing topics are left exactly as they are: changing partitions or retention of a live topic
is an operator's decision, not a side effect of ``nezlam stack up``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from streams.config import Settings
from streams.kafka.client import client_kwargs
from streams.kafka.topics import TopicSpec, all_topics, changelog_topics

MS_PER_HOUR = 3_600_000
CHANGELOG_SEGMENT_MS = 600_000
NO_ERROR = 0


def topic_configs(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    """Broker settings of one topic: compacted master data or state, or time-limited events;
    every one refuses ``acks=all`` writes that fewer than all-but-one replicas hold."""
    return {**_retention(spec, settings),
            "min.insync.replicas": str(min_insync_replicas(settings.topic_replication))}


def min_insync_replicas(replication: int) -> int:
    """Replicas an ``acks=all`` write needs: all but one, so one broker may be down or
    restarting and no acknowledged write lives on a single disk (2 of 3; 1 of 1)."""
    return max(1, replication - 1)


def _retention(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    if spec.schema is None:  # a state changelog: rewritten per message, read whole on recovery
        return {
            "cleanup.policy": "compact",
            # Compaction only touches closed segments: roll them often, so that recovering a
            # table reads about one record per key rather than every update since creation.
            "segment.ms": str(CHANGELOG_SEGMENT_MS),
            "min.cleanable.dirty.ratio": "0.1",
        }
    if spec.compacted:
        return {"cleanup.policy": "compact"}
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(settings.topic_retention_hours * MS_PER_HOUR),
    }


def new_topics(settings: Settings, specs: Sequence[TopicSpec] | None = None) -> list[NewTopic]:
    """The admin API's requests for ``specs`` (default: the contract's and the state's topics)."""
    if specs is None:
        specs = (*all_topics(settings.deadletter_topic), *changelog_topics(settings.app_id))
    return [
        NewTopic(
            spec.name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication,
            topic_configs=topic_configs(spec, settings),
        )
        for spec in specs
    ]


async def ensure_topics_async(
    settings: Settings, specs: Sequence[TopicSpec] | None = None
) -> list[str]:
    """Create the topics (see :func:`new_topics`) that do not exist yet; return those created."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in new_topics(settings, specs) if topic.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(missing)
    finally:
        await admin.close()
    created: list[str] = []
    for name, code, *detail in response.topic_errors:
        if code == NO_ERROR:
            created.append(name)
        # "Already exists": another process created it between our listing and our request.
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            raise error(f"creating topic {name}: {detail[0] if detail else error.description}")
    return created


def ensure_topics(settings: Settings, specs: Sequence[TopicSpec] | None = None) -> list[str]:
    """Synchronous :func:`ensure_topics_async` for the CLI."""
    return asyncio.run(ensure_topics_async(settings, specs))
