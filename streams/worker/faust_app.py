"""The one place Faust appears: the app, its state table, the ingest agents, tasks and timers.

``create_app(settings)`` runs the startup checks and builds the app; ``app`` (what
``faust -A streams.worker.faust_app worker`` and ``nezlam worker`` run) is built on first access,
never at import. Everything else of the worker (:mod:`streams.worker.components`) knows
nothing of Faust: it is handed the table, the partition scope and the consumer's positions.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError
from faust.streams import _current_event  # see FaustPartitionScope
from faust.types import TP
from faust.types.auth import CredentialsT
from mode.types.signals import BaseSignalT

from streams.alerting.rules_file import AlertConfigError
from streams.config import Settings, get_settings
from streams.domain.alert_rules import AlertRules
from streams.kafka import topics
from streams.kafka.client import sasl_login, ssl_context
from streams.kafka.login import explain
from streams.worker.components import WorkerParts
from streams.worker.ingest import InboundMessage, Ingestor
from streams.worker.stall_watch import StallWatch, positions_to_reach
from streams.worker.startup import prepare_worker
from streams.worker.web import worker_web_kwargs

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
# An idle partition is fetched every fetch wait (0.5 s); one not fetched for this long is not
# known to be read to its end (Kafka unreachable, or the worker too busy to fetch it).
FETCH_FRESH_SECONDS = 5.0

MIB = 1024 * 1024
# Faust opens one RocksDB per table and partition (12 here), each sized by default for large
# state (64 MiB write buffers, a 2 GiB block cache). The whole state of the network is a few
# tens of MB: small buffers and caches keep the worker's memory to what it holds.
ROCKSDB_OPTIONS = {"write_buffer_size": 4 * MIB, "max_write_buffer_number": 2,
                   "block_cache_size": 8 * MIB, "block_cache_compressed_size": 2 * MIB}


def create_app(
    settings: Settings, prepare: Callable[[Settings], AlertRules] = prepare_worker
) -> faust.App:
    """Check what the worker needs (``prepare``), then build the Faust app."""
    try:
        rules = prepare(settings)
    except AlertConfigError as exc:
        raise SystemExit(f"nezlam worker: {exc}") from exc
    except KafkaError as exc:  # e.g. a wrong password: one line, not a stack trace
        raise SystemExit(f"nezlam worker: {explain(settings, exc)}") from exc
    app = faust.App(
        settings.app_id,
        **faust_app_kwargs(settings),
        store="rocksdb://",
        datadir=str(settings.state_dir / "worker"),
        **worker_web_kwargs(settings),
        producer_acks=-1,
        producer_linger=0.005,  # a few ms of batching: changelog sends come in bursts
    )
    # Keyed by point_id; a point's record lives in the changelog partition numbered like the
    # input partition its messages arrive on (producers key every topic by point_id). A bytes
    # key type gives the raw key codec (str keys are encoded as UTF-8), values are JSON.
    table = cast(faust.Table[str, Any], app.Table(
        topics.STATE_TABLE, partitions=settings.topic_partitions, key_type=bytes,
        options=ROCKSDB_OPTIONS,
    ))
    inputs = {spec.name for spec in topics.INPUT_TOPICS}
    scope = FaustPartitionScope(
        lambda: {tp.partition for tp in app.consumer.assignment() if tp.topic == topics.TELEMETRY},
        lambda: app.rebalancing_count,
    )
    parts = WorkerParts.build(settings, rules, table, scope)
    ingestor = parts.ingestor
    committed_at_start: dict[tuple[str, int], int] = {}
    paused: set[TP] = set()  # input partitions not fetched while their tasks hold many back

    def caught_up(topic: str, partition: int) -> bool:
        # Everything Kafka held of the partition at a recent fetch has reached the worker. A
        # high-water mark from a fetch long ago (Kafka unreachable) says nothing: reports may
        # be waiting, and the wall clock must not move the task on over them.
        tp = TP(topic, partition)
        try:
            high = app.consumer.highwater(tp)
            fetched_ms = _last_fetch_ms(app, tp)
        except Exception:  # not assigned here (any more): nothing to wait for from it
            return False
        if high is None or fetched_ms is None:
            return False  # not fetched yet: unknown
        if time.time() * 1000 - fetched_ms > FETCH_FRESH_SECONDS * 1000:
            return False
        received = ingestor.positions.get((topic, partition))
        if received is None:
            received = committed_at_start.setdefault(
                (topic, partition), _committed_offsets(app).get(tp) or 0)
        return received >= high

    ingestor.caught_up = caught_up

    def highwater(tp: TP) -> int:
        try:
            return app.consumer.highwater(tp) or 0
        except Exception:  # not assigned here (any more)
            return 0

    @app.on_partitions_revoked.connect
    async def forget_positions(sender: Any, /, *args: Any, signal: BaseSignalT[Any],
                               **_: Any) -> None:
        revoked: set[TP] = args[0]
        # What a new owner will deliver again starts from the committed offsets.
        ingestor.forget({(tp.topic, tp.partition) for tp in revoked})
        paused.difference_update(revoked)  # Faust forgets its pauses of them too
        for tp in revoked:
            committed_at_start.pop((tp.topic, tp.partition), None)

    for spec in topics.INPUT_TOPICS:
        _ingest_agent(app, ingestor, scope, spec.name)

    def hold_back_inputs_ahead() -> None:
        # As Kafka Streams pauses a partition whose buffer is full: an input partition a task
        # holds many messages of (waiting for its other inputs) is not fetched meanwhile, so
        # memory stays bounded and the other inputs keep coming.
        held = {TP(topic, partition) for topic, partition in
                ingestor.held_back(max(1000, settings.sink_batch_size // 4))}
        if held - paused:
            app.consumer.pause_partitions(held - paused)
        if paused - held:
            app.consumer.resume_partitions(paused - held)
        paused.clear()
        paused.update(held)

    async def handle_arrived() -> None:
        if not (app.rebalancing or app.in_recovery):  # else the table is being restored
            await ingestor.drain()
            hold_back_inputs_ahead()

    async def observe() -> None:
        if app.rebalancing or app.in_recovery:
            return
        parts.pipeline.observe()
        owned = [tp for tp in app.consumer.assignment() if tp.topic == topics.TELEMETRY]
        parts.metrics.consumer_lag.labels(topics.TELEMETRY).set(sum(
            max(highwater(tp) - ingestor.positions.get((tp.topic, tp.partition), 0), 0)
            for tp in owned))

    stall_watch: StallWatch[TP] = StallWatch(settings.stall_reseek_seconds)

    async def reseek_stalled_partitions() -> None:
        if app.rebalancing or app.in_recovery or parts.kafka_outage.down:
            return  # a commit Kafka cannot take now is no stall
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in inputs]
        # Messages a task holds back for the merge are not stalled: they wait for their inputs.
        idle = parts.ingestor.idle and parts.pipeline.buffered == 0
        highwaters = await app.consumer.highwaters(*assigned) if assigned else {}
        processed = {tp: position
                     for (topic, partition), position in parts.ingestor.positions.items()
                     if (tp := TP(topic, partition)) in assigned}
        committed = _committed_offsets(app)
        targets = positions_to_reach(processed, highwaters, committed, idle=idle)
        stalled = stall_watch.stalled(time.monotonic(), targets, committed)
        if stalled:
            for tp in stalled:
                parts.metrics.stall_reseeks.labels(tp.topic, str(tp.partition)).inc()
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in stalled)
            log.warning("commit stalled behind processed or waiting messages on %s; reading "
                        "them again from the committed offsets", names)
            # Nothing is known received any more: no task may take these inputs as caught up.
            ingestor.forget({(tp.topic, tp.partition) for tp in stalled})
            await app.consumer.perform_seek()

    taken_over = -1  # the rebalance generation whose firing alerts were taken over

    async def take_over_firing_alerts() -> None:
        nonlocal taken_over
        if app.rebalancing or app.in_recovery or taken_over == scope.generation():
            return
        taken_over = scope.generation()
        parts.take_over_firing_alerts()

    async def restore_log_level() -> None:
        # At -l warn and above Faust's worker sets the root logger to DEBUG so that its terminal
        # spinner moves on every record: each library then builds its debug records (aiokafka
        # one per message sent, 8 % of a busy worker's time). Its first handler keeps the chosen
        # level, which the root logger gets back.
        handlers = logging.root.handlers
        if handlers and handlers[0].level > logging.root.level:
            logging.root.setLevel(handlers[0].level)

    app.timer(settings.liveness_interval_seconds)(observe)
    app.timer(settings.sink_batch_seconds)(handle_arrived)
    app.timer(settings.stall_reseek_seconds / 3)(reseek_stalled_partitions)
    app.timer(1.0)(take_over_firing_alerts)
    # The dispatch plans the fuel alerts name trucks from (streams.worker.dispatch_plans).
    app.timer(settings.dispatch_plan_refresh_seconds)(parts.plans.refresh)
    app.task(parts.plans.refresh)  # and once at the start, not one interval later
    for task in (parts.output_producer.run, restore_log_level, parts.quiet_kafka_outages,
                 parts.follow_registry, parts.deliver_alerts):
        app.task(task)

    @app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        # aiohttp takes the charset apart from the content type
        return web.bytes(parts.metrics_text(), content_type=METRICS_CONTENT_TYPE)

    return app


def _last_fetch_ms(app: faust.App, tp: TP) -> int | None:
    """When the consumer last had a fetch response for ``tp`` (epoch ms). Faust exposes a
    partition's high-water mark but not when it was fetched; its aiokafka consumer does."""
    consumer = app.consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
    return cast("int | None", consumer.last_poll_timestamp(tp))


def _committed_offsets(app: faust.App) -> Mapping[TP, int | None]:
    """The offsets Faust committed, per partition. Faust keeps no public view of them; this is
    the map its commits update."""
    return cast(Mapping[TP, "int | None"], app.consumer._committed_offset)  # type: ignore[attr-defined]


class FaustPartitionScope:
    """The latest consumed event of each partition number: the partition scope of table writes.

    Faust's RocksDB store files a table key under the partition of the event being processed.
    A cycle of the stream tasks has no single current event, so table writes for partition P
    run inside ``scope(P)``, which makes P's latest event current.
    """

    def __init__(self, owned: Callable[[], set[int]], rebalances: Callable[[], int]) -> None:
        self._events: dict[int, faust.EventT[bytes]] = {}
        self._owned = owned  # the input partition numbers this worker owns now
        self._rebalances = rebalances  # how many rebalances have begun

    def record(self, event: faust.EventT[bytes]) -> None:
        """Remember ``event`` as its partition's latest."""
        self._events[event.message.partition] = event

    def covers(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` and has consumed an event of it (its records
        can be written). A batch still running when a rebalance took its partition away must
        not write that partition's records: the new owner restored them already, and reads
        the batch's messages again (their offsets were not committed)."""
        return partition in self._events and partition in self._owned()

    def assigned(self) -> set[int]:
        """The input partition numbers this worker owns now."""
        return self._owned()

    def generation(self) -> int:
        """The number of rebalances begun: each one may restore the table from its changelog."""
        return self._rebalances()

    @contextmanager
    def __call__(self, partition: int) -> Iterator[None]:
        """Run the block as if processing partition ``partition``'s latest event."""
        token = _current_event.set(weakref.ref(self._events[partition]))
        try:
            yield
        finally:
            _current_event.reset(token)


def _ingest_agent(
    app: faust.App, ingestor: Ingestor, scope: FaustPartitionScope, topic_name: str
) -> None:
    """One agent for ``topic_name``: each raw record to :meth:`Ingestor.receive`, not
    acknowledged (``noack``): the ingestor acknowledges it once its task processed it."""
    channel = app.topic(topic_name, key_type=bytes, value_type=bytes)

    async def ingest(stream: faust.StreamT[bytes]) -> None:
        assert isinstance(stream, faust.Stream)  # events() is not on the StreamT protocol
        async for event in stream.noack().events():
            scope.record(event)
            message = event.message
            await ingestor.receive(InboundMessage(
                topic_name, message.partition, message.offset, message.key, message.value,
                event.ack))

    app.agent(channel, name=f"ingest.{topic_name}")(ingest)


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """``broker_credentials`` for ``faust.App``; None for PLAINTEXT (Faust's default)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    username, password = sasl_login(settings)
    # Faust derives SASL_SSL from the presence of a TLS context, SASL_PLAINTEXT from its absence.
    return faust.SASLCredentials(
        username=username,
        password=password,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def faust_app_kwargs(settings: Settings) -> dict[str, Any]:
    """What every Faust app of the project shares: brokers, credentials, topic defaults and
    raw bytes in and out (the contract validates the JSON itself)."""
    return {
        "broker": [f"kafka://{host}" for host in settings.kafka_bootstrap],
        "broker_credentials": faust_credentials(settings),
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "consumer_auto_offset_reset": "earliest",
        # Failover (docs/operations.md, "When things fail"): a worker that stops heartbeating
        # loses its partitions after the session timeout; the survivors rejoin on their next
        # heartbeat. Shorter is faster failover, but a worker whose event loop is blocked for
        # longer than the session timeout is taken for dead and its partitions move too.
        "broker_session_timeout": settings.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": settings.kafka_session_timeout_seconds / 5,
        "broker_rebalance_timeout": settings.kafka_session_timeout_seconds,
        **_throughput_kwargs(settings),
    }


# --- Throughput and memory (issue 12; docs/operations.md, "Sizing") ----------------------------
def _throughput_kwargs(settings: Settings) -> dict[str, Any]:
    """Faust settings that change what an event costs (measured by ``make bench``)."""
    return {
        # Faust pauses fetching a partition once its stream buffer is 80 % full (default 4,096).
        # The agents hand each event on at once (the ingestor batches them), so the buffer
        # only bridges a cycle; a larger one holds more events in memory for nothing.
        "stream_buffer_maxsize": max(1000, settings.sink_batch_size // 4),
        # Standby replicas replay every changelog record through Faust's per-message path on
        # every other worker, which doubles the state work with two workers; without them a
        # worker taking over restores the partition from its changelog (seconds for this state).
        "table_standby_replicas": 0,
        # One fetch returns at most one batch's worth of records: bounded memory per fetch.
        "broker_max_poll_records": settings.sink_batch_size,
        # A rebalance must not wait for the messages a task holds back for its merge: they
        # are not acknowledged, and the partition's next owner reads them again.
        "stream_wait_empty": False,
    }
# --- end throughput and memory --------------------------------------------------------------


@functools.cache
def _app() -> faust.App:
    return create_app(get_settings())


def __getattr__(name: str) -> Any:
    # ``app`` is built when Faust's -A asks for it (PEP 562), not when the module is imported.
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
