"""Detects partitions whose committed offset is stuck behind what the worker has processed.

Faust acknowledges offsets message by message and commits only up to the first unacknowledged
one. Around a rebalance or a restart it can deliver a partition's prefetched records before
the seek back to the committed offset (faust-streaming issues 216 and 221): the messages in
between are never delivered, never acknowledged, and the commit stops there for good while
later messages are processed. Nothing is lost (Kafka still holds them and the commit guards
them), but the partition's lag grows forever. The cure is to read the partition again from
its committed offset; replays are idempotent.

The same cure serves a partition whose messages were never delivered at all after a restart or
a rebalance: nothing of it was processed, so only its high-water mark shows that the commit is
behind. That is judged only while the worker is idle (no batch in flight), so a batch that waits
(a database outage, a long backlog elsewhere) never counts as a stall.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


def positions_to_reach(
    processed: Mapping[Key, int],
    highwaters: Mapping[Key, int],
    committed: Mapping[Key, int | None],
    *,
    idle: bool,
) -> dict[Key, int]:
    """Per partition, the offset its commit should reach: what was processed and, while the
    worker is idle, the partition's high-water mark where messages wait beyond the commit."""
    targets = dict(processed)
    if idle:
        for key, highwater in highwaters.items():
            if highwater > (committed.get(key) or 0):
                targets[key] = max(targets.get(key, 0), highwater)
    return targets


@dataclass
class StallWatch(Generic[Key]):
    """Reports a partition once its (committed, processed) pair has shown committed < processed
    without any change for ``window_seconds``."""

    window_seconds: float
    _seen: dict[Key, tuple[int, int, float]] = field(default_factory=dict)

    def stalled(
        self, now: float, processed: Mapping[Key, int], committed: Mapping[Key, int | None]
    ) -> list[Key]:
        """The partitions stalled at ``now``; ``processed``: the next offset to process,
        ``committed``: the next offset the consumer group would read (None: nothing yet)."""
        found: list[Key] = []
        seen: dict[Key, tuple[int, int, float]] = {}
        for key, position in processed.items():
            commit = committed.get(key)
            commit = -1 if commit is None else commit
            if commit >= position:
                continue  # caught up
            before = self._seen.get(key)
            since = before[2] if before is not None and before[:2] == (commit, position) else now
            if now - since >= self.window_seconds:
                found.append(key)
                since = now  # give the re-read a whole window before judging again
            seen[key] = (commit, position, since)
        self._seen = seen
        return found
