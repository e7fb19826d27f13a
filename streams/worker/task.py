"""The stream task: one partition number of every input, merged in event-time order.

After Kafka Streams' ``StreamTask`` and ``PartitionGroup``. Producers key every input topic by
point_id, so partition N of telemetry, visits and activations holds every message of the same
points: one task owns them, with those points' records, a timer queue of their deadlines and
its own stream time.

- :class:`PartitionGroup` buffers each input partition and always hands out the buffered
  message with the smallest timestamp. An input with nothing buffered holds the others back
  while Kafka holds more of it (it is on its way); once it is read to its end, a message
  waits at most ``max_idle_seconds`` (``NEZLAM_MAX_TASK_IDLE_SECONDS``) for it, after which
  stream time moves on without it.
- :class:`TimerQueue`: each point's next deadline (:func:`streams.domain.point.next_deadline`),
  fired in time order as stream time passes it.
- :class:`StreamTask`: stream time is the largest timestamp processed. A message older than
  stream time by more than the allowed lateness is late: it was written as a row, it is counted,
  and it changes no record and no alert. In wall-clock mode, the wall clock moves a task's time
  only while every one of its inputs is caught up and nothing is buffered.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from streams.domain.point import (
    InputKind,
    PointOutputs,
    PointSetup,
    advance,
    next_deadline,
    shown_state,
    step,
)
from streams.domain.point_state import PointState
from streams.domain.staleness import StalenessConfig

T = TypeVar("T")


class PartitionGroup(Generic[T]):
    """The buffered messages of one task's input partitions, handed out in timestamp order."""

    def __init__(self, inputs: Sequence[str], max_idle_seconds: float) -> None:
        # per input: (ts, when it arrived (monotonic), item), in arrival order
        self._queues: dict[str, deque[tuple[float, float, T]]] = {
            name: deque() for name in inputs}
        self._rank = {name: i for i, name in enumerate(inputs)}  # ties: the inputs' order
        self._max_idle = max_idle_seconds

    def add(self, name: str, ts: float, item: T, now: float) -> None:
        """Buffer ``item`` (event time ``ts``, arrived at monotonic ``now``) after the earlier
        ones of input ``name``."""
        self._queues[name].append((ts, now, item))

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def pop(self, caught_up: Collection[str], now: float) -> tuple[str, float, T] | None:
        """The buffered message with the smallest timestamp, or None when there is none or an
        empty input holds it back (``now``: monotonic seconds).

        An empty input that Kafka holds more of (or whose end is not known yet) is always
        waited for: its messages are on their way. While an input is empty but read to its
        end, a message waits until it has been here ``max_idle_seconds``: a message produced
        at the same moment to that input (another producer, another partition leader) still
        comes before it if its timestamp is earlier.
        """
        heads = [(queue[0][0], self._rank[name], name)
                 for name, queue in self._queues.items() if queue]
        if not heads:
            return None
        empty = [name for name, queue in self._queues.items() if not queue]
        if any(name not in caught_up for name in empty):
            return None
        _, _, name = min(heads)
        ts, arrived, item = self._queues[name][0]
        if empty and now - arrived < self._max_idle:
            return None
        self._queues[name].popleft()
        return name, ts, item

    def sizes(self) -> dict[str, int]:
        """Messages buffered per input."""
        return {name: len(queue) for name, queue in self._queues.items()}

    def drain(self) -> list[T]:
        """Every buffered item, emptied out (the task is dropped)."""
        items = [item for queue in self._queues.values() for _, _, item in queue]
        for queue in self._queues.values():
            queue.clear()
        return items


class TimerQueue:
    """Each key's next deadline; :meth:`pop_due` hands them out in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._order = itertools.count()  # equal deadlines fire in the order they were set

    def schedule(self, key: str, due: float | None) -> None:
        """Make sure ``key`` fires no later than ``due`` (None: nothing to fire for it).

        A deadline that moves later keeps the earlier entry (most messages move a point's
        silence deadline on): the owner finds nothing due when it fires and schedules the new
        one then, which costs one heap entry per deadline instead of one per message."""
        if due is None:
            self._due.pop(key, None)
            return
        current = self._due.get(key)
        if current is None or due < current:
            self._due[key] = due
            heapq.heappush(self._heap, (due, next(self._order), key))

    def pop_due(self, until: float, *, inclusive: bool = True) -> tuple[float, str] | None:
        """The earliest deadline at or before ``until`` (before it: ``inclusive`` False),
        taken out; None if there is none."""
        while self._heap and (self._heap[0][0] <= until if inclusive
                              else self._heap[0][0] < until):
            due, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == due:  # else replaced since: a stale entry
                del self._due[key]
                return due, key
        return None

    def __len__(self) -> int:
        return len(self._due)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A validated input message waiting in a task, with what acknowledges it."""

    kind: InputKind
    message: dict[str, Any]
    ack: object  # handed back once the message is processed (see StreamTask.run)


Emit = Callable[[str, PointOutputs], None]  # a point's outputs, to the checkpoint


class StreamTask:
    """One partition number's merge, stream time, timers and point records."""

    def __init__(
        self,
        partition: int,
        inputs: Sequence[str],
        records: Mapping[str, PointState],
        setup: Callable[[str], PointSetup | None],
        load: Callable[[str], PointState | None],
        *,
        lateness_seconds: float,
        max_idle_seconds: float,
    ) -> None:
        self.partition = partition
        self._inputs = tuple(inputs)
        self._group: PartitionGroup[Inbound] = PartitionGroup(inputs, max_idle_seconds)
        self._timers = TimerQueue()
        self._setup = setup
        self._load = load  # a record not in memory, from the state table
        self._lateness = lateness_seconds
        self.records: dict[str, PointState] = dict(records)
        self.changed: set[str] = set()
        self.stream_time: float | None = None  # the largest timestamp processed
        self.time: float | None = None  # stream time, or the wall clock's when it moved it
        for point_id, record in self.records.items():
            if (found := setup(point_id)) is not None:
                self._timers.schedule(point_id, next_deadline(record, found))

    @property
    def buffered(self) -> int:
        """Messages received and not processed yet."""
        return len(self._group)

    def offer(self, name: str, kind: InputKind, message: dict[str, Any], ack: object,
              now: float) -> None:
        """Buffer a validated message of input ``name`` (``_ts`` set), arrived at monotonic
        ``now``."""
        self._group.add(name, float(message["_ts"]), Inbound(kind, message, ack), now)

    def run(
        self, caught_up: Collection[str], now: float, emit: Emit, on_late: Callable[[str], None],
        on_error: Callable[[str, Inbound, Exception], None],
    ) -> list[object]:
        """Process every message the partition group hands out now; returns their acks.
        ``on_late(input)`` counts a late message; ``on_error`` takes a message whose step
        failed (a bug): its point's record is read again from the table."""
        done: list[object] = []
        while (popped := self._group.pop(caught_up, now)) is not None:
            name, ts, inbound = popped
            done.append(inbound.ack)
            if self.stream_time is not None and ts < self.stream_time - self._lateness:
                on_late(name)
                continue
            # Deadlines strictly before the message: one that arrives at its deadline is in time.
            self._fire_timers(ts, emit, inclusive=False)
            self.stream_time = ts if self.stream_time is None else max(self.stream_time, ts)
            self.time = max(self.time or ts, self.stream_time)
            point_id = inbound.message["point_id"]
            setup = self._setup(point_id)
            if setup is None:
                continue  # not in the registry: the ingestor dead-letters these before
            record = self.records.get(point_id) or self._load(point_id) or PointState()
            record.partition = self.partition
            try:
                record, out = step(record, inbound.kind, inbound.message, self.time, setup)
            except Exception as exc:
                self.records.pop(point_id, None)
                self.changed.discard(point_id)
                on_error(name, inbound, exc)
                continue
            self._keep(point_id, record, setup)
            emit(point_id, out)
        return done

    def move_to(self, clock: float, caught_up: Collection[str], emit: Emit) -> None:
        """With every input read to its end and nothing buffered, the task's time follows the
        clock (a partition whose points all go quiet is still judged)."""
        if self.buffered or not set(self._inputs) <= set(caught_up):
            return
        if self.time is None or clock > self.time:
            self._fire_timers(clock, emit)
            self.time = clock

    def buffered_by_input(self) -> dict[str, int]:
        """Messages held back per input partition."""
        return self._group.sizes()

    def _fire_timers(self, until: float, emit: Emit, *, inclusive: bool = True) -> None:
        while (due := self._timers.pop_due(until, inclusive=inclusive)) is not None:
            at, point_id = due
            record = self.records.get(point_id) or self._load(point_id)
            setup = self._setup(point_id)
            if record is None or setup is None:
                continue
            deadline = next_deadline(record, setup)
            if deadline is None or deadline > at:  # it moved on since this entry was set
                self._timers.schedule(point_id, deadline)
                continue
            record, out = advance(record, at, setup)
            self._keep(point_id, record, setup)
            emit(point_id, out)

    def _keep(self, point_id: str, record: PointState, setup: PointSetup) -> None:
        self.records[point_id] = record
        self.changed.add(point_id)
        self._timers.schedule(point_id, next_deadline(record, setup))

    def shown(self, config: StalenessConfig) -> Iterable[tuple[str, bool]]:
        """Every point's category and overdue flag at the task's time (the counts by state)."""
        if self.time is None:
            return
        for record in self.records.values():
            if record.liveness is not None:
                yield shown_state(record.liveness, self.time, config)

    def drop(self) -> list[object]:
        """The task is revoked: what it buffered is left unacknowledged (the next owner reads
        it again from the committed offsets)."""
        return [inbound.ack for inbound in self._group.drain()]
