"""The publisher's partitioning matches Kafka's Java client, and the counts it reports."""

from __future__ import annotations

import pytest

from streams.kafka.topics import REGISTRY, TELEMETRY
from streams.simulate.producer import partition_for
from streams.simulate.progress import Tally

# Partitions for 12 partitions, computed by Kafka 4.3.1's own client code:
# Utils.toPositive(Utils.murmur2(key.getBytes(UTF_8))) % 12.
JAVA_PARTITIONS = {
    "UA-KY-00042": 3,
    "UA-VN-00001": 2,
    "UA-OD-01377": 9,
    "UA-LH-00007": 2,
    "UA-DP-01167": 9,
    "UA-KV-00700": 0,
}


@pytest.mark.parametrize(("key", "partition"), JAVA_PARTITIONS.items())
def test_keys_land_where_the_java_client_puts_them(key: str, partition: int) -> None:
    assert partition_for(key.encode(), list(range(12))) == partition


def test_summary_counts_every_topic_and_bad() -> None:
    tally = Tally()
    tally.counts[REGISTRY] += 5
    tally.counts[TELEMETRY] += 7
    tally.counts["bad"] += 1
    assert tally.summary() == {
        "points.registry": 5,
        "points.telemetry": 7,
        "points.visits": 0,
        "points.activations": 0,
        "bad": 1,
    }
    first = tally.progress_line(1_736_935_200.0, 100.0)
    tally.counts[TELEMETRY] += 300
    second = tally.progress_line(1_736_935_260.0, 103.0)
    assert "2025-01-15 10:00:00Z" in first
    assert "telemetry 100/s" in second
    assert "total 313 (bad 1)" in second
