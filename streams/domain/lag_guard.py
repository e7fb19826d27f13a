"""Which "now" silence is judged against: the clock, or how far the pipeline has got.

Production judges silence on the wall clock, tests and simulations on event time
(``NEZLAM_CLOCK``). Either way the caller reads the clock once and passes the number into the
pure functions, which never read a clock themselves.

The lag guard answers one question: *may the pipeline trust the clock right now?* While the
pipeline is behind (a backlog of unread messages), a point whose reports are still waiting in
the backlog would look silent on the wall clock although it is not. Then silence is judged
against the *watermark*, the event time the pipeline has actually reached. Once the backlog is
gone the wall clock applies again, so a network that truly goes quiet is still reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """How far the pipeline got on one input partition.

    ``last_event_ts`` is the highest message ``ts`` processed on the partition (None before
    the first one); ``lag_messages`` is the partition's end offset minus the consumer position.
    """

    partition: int
    last_event_ts: float | None
    lag_messages: int


@dataclass(frozen=True, slots=True)
class PipelineHealth:
    """The pipeline's progress over a set of partitions.

    ``watermark`` is the event time reached on the partitions that still have a backlog
    (None when nothing is lagging, or when a lagging partition has processed nothing yet).
    """

    backlog_messages: int
    watermark: float | None


@dataclass(frozen=True, slots=True)
class LagGuardConfig:
    """When the pipeline counts as behind.

    Behind = some backlog remains *and* either the backlog exceeds ``max_backlog_messages`` or
    the watermark trails the clock by more than ``max_watermark_delay_seconds``. A small,
    fresh backlog is normal batching and keeps the wall clock.
    """

    max_backlog_messages: int = 5000
    max_watermark_delay_seconds: float = 60.0


def pipeline_health(partitions: Iterable[PartitionProgress]) -> PipelineHealth:
    """Combine per-partition progress into one :class:`PipelineHealth`.

    Partitions without backlog are caught up, so they do not hold the watermark back (an idle
    partition would otherwise freeze it forever). Pass a single partition to judge the points
    of that partition alone, which is more precise than judging the whole network at once.
    """
    backlog = 0
    watermark: float | None = None
    unknown_progress = False
    for progress in partitions:
        if progress.lag_messages <= 0:
            continue
        backlog += progress.lag_messages
        if progress.last_event_ts is None:
            unknown_progress = True
        elif watermark is None or progress.last_event_ts < watermark:
            watermark = progress.last_event_ts
    return PipelineHealth(backlog, None if unknown_progress else watermark)


def is_behind(now_wall: float, health: PipelineHealth, config: LagGuardConfig) -> bool:
    """Whether the pipeline is too far behind for the wall clock to judge silence."""
    if health.backlog_messages <= 0:
        return False
    if health.backlog_messages > config.max_backlog_messages or health.watermark is None:
        return True
    return now_wall - health.watermark > config.max_watermark_delay_seconds


def reference_time(now_wall: float, health: PipelineHealth, config: LagGuardConfig) -> float | None:
    """The time silence and activation deadlines are judged against.

    * no backlog, or a small fresh one: ``now_wall``;
    * behind: the watermark (never later than ``now_wall``), so reports still queued in the
      backlog cannot make their points look silent;
    * behind with no known watermark (a lagging partition that has processed nothing since
      start-up): None, meaning "do not judge now" (see ``staleness.judge_liveness``).
    """
    if not is_behind(now_wall, health, config):
        return now_wall
    if health.watermark is None:
        return None
    return min(now_wall, health.watermark)
