"""The Faust application: ``create_app(settings)`` builds it; ``app`` is what ``faust -A`` runs.

Run a worker with ``nezlam worker`` (or ``faust -A streams.app worker -l info``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest
from psycopg_pool import AsyncConnectionPool

from streams import outage, topics
from streams.agents import ingest
from streams.agents.alerts import AlertProcessor
from streams.agents.fuel import FuelProcessor
from streams.agents.liveness import LivenessProcessor
from streams.agents.occupancy import OccupancyProcessor
from streams.agents.pipeline import Pipeline
from streams.alert_config import load_alert_rules
from streams.config import Settings, get_settings
from streams.contract import Contract
from streams.domain.clock import LagGuardConfig
from streams.domain.occupancy import OccupancyConfig
from streams.domain.staleness import StalenessConfig
from streams.kafka_client import client_kwargs, faust_app_kwargs
from streams.metrics import PipelineMetrics
from streams.outage import OutageLog
from streams.point_directory import PointDirectory, RegistryFollower
from streams.sinks.alertmanager import AlertmanagerNotifier
from streams.sinks.database import DatabaseSink
from streams.sinks.kafka_outputs import BatchProducer
from streams.stall_watch import StallWatch
from streams.worker_web import worker_web_kwargs

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"

MIB = 1024 * 1024
# Faust opens one RocksDB per table and partition (12 here), each sized by default for large
# state (64 MiB write buffers, a 2 GiB block cache). The whole state of the network is a few
# tens of MB: small buffers and caches keep the worker's memory to what it holds.
ROCKSDB_OPTIONS = {"write_buffer_size": 4 * MIB, "max_write_buffer_number": 2,
                   "block_cache_size": 8 * MIB, "block_cache_compressed_size": 2 * MIB}


def create_app(settings: Settings) -> faust.App:
    """A Faust app with the ingest agents, the registry follower and ``/metrics``."""
    # A fresh deployment may point NEZLAM_STATE_DIR at a folder nobody has made yet.
    (settings.state_dir / "worker").mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        **faust_app_kwargs(settings),
        store="rocksdb://",
        datadir=str(settings.state_dir / "worker"),
        **worker_web_kwargs(settings),
        producer_acks=-1,
        producer_linger=0.005,  # a few ms of batching: changelog and output sends come in bursts
    )
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    contract = Contract(
        max_future_skew_seconds=settings.max_future_skew_seconds,
        max_age_seconds=settings.max_event_age_seconds,
        max_message_bytes=settings.max_message_bytes,
    )
    follower = RegistryFollower(
        client_kwargs(settings), contract, PointDirectory(), on_change=metrics.points_known.set
    )
    pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=4, open=False)

    def count_sink_error(table: str, error: str) -> None:
        metrics.sink_errors.labels(table, error).inc()

    def count_sink_retry(table: str) -> None:
        metrics.sink_retries.labels(table).inc()

    sink = DatabaseSink(pool, on_error=count_sink_error, on_retry=count_sink_retry)
    events = ingest.PartitionEvents()

    def count_delivery_failure(url: str) -> None:
        metrics.alert_delivery_failures.labels(url).inc()

    notifier = AlertmanagerNotifier.from_settings(settings, on_failure=count_delivery_failure)
    metrics.alert_queue.set_function(notifier.queued)
    alerts = AlertProcessor(follower.directory, load_alert_rules(settings.alert_rules_file))
    kafka_outage = OutageLog("Kafka")

    def count_send_retry(topic_names: set[str]) -> None:
        for name in topic_names:
            metrics.send_retries.labels(name).inc()
        if settings.deadletter_topic in topic_names:
            metrics.deadletter_send_failures.inc()

    outputs = BatchProducer(client_kwargs(settings), on_retry=count_send_retry,
                            outage=kafka_outage)
    app.task(outputs.run)
    pipeline = _pipeline(
        app, outputs, settings, follower.directory, sink, metrics, events, alerts,
        lambda message: notifier.offer(message, time.time()),
    )

    async def send_deadletters(letters: list[tuple[bytes, bytes]]) -> None:
        await outputs.send_all(
            [(settings.deadletter_topic, key, record) for key, record in letters]
        )

    ingestor = ingest.Ingestor(
        contract, sink, follower, send_deadletters, metrics, downstream=pipeline.process
    )
    ingest.register(
        app, ingestor, events,
        batch_size=settings.sink_batch_size, within=settings.sink_batch_seconds,
    )

    async def judge_points() -> None:
        owned = [tp for tp in app.consumer.assignment() if tp.topic == topics.TELEMETRY]
        highwaters = await app.consumer.highwaters(*owned) if owned else {}
        positions: dict[int, int] = {}
        for tp in owned:
            # Where this worker has processed nothing yet, the consumer's position stands in
            # (the committed offset it resumed from, or what it has fetched since).
            processed = ingestor.positions.get((tp.topic, tp.partition))
            position = processed if processed is not None else await app.consumer.position(tp)
            positions[tp.partition] = position or 0
        await pipeline.judge({tp.partition: high for tp, high in highwaters.items()}, positions)

    app.timer(settings.liveness_interval_seconds)(judge_points)

    stall_watch: StallWatch[TP] = StallWatch(settings.stall_reseek_seconds)

    async def reseek_stalled_partitions() -> None:
        if app.rebalancing or app.in_recovery:
            return
        assigned = app.consumer.assignment()
        processed = {tp: position for (topic, partition), position in ingestor.positions.items()
                     if (tp := TP(topic, partition)) in assigned}
        # Faust keeps no public view of what it has committed; this is the offset it commits.
        committed = app.consumer._committed_offset  # type: ignore[attr-defined]
        stalled = stall_watch.stalled(time.monotonic(), processed, committed)
        if stalled:
            for tp in stalled:
                metrics.stall_reseeks.labels(tp.topic, str(tp.partition)).inc()
            log.warning("commit stalled behind processed messages on %s; reading them again "
                        "from the committed offsets", ", ".join(f"{tp.topic}[{tp.partition}]"
                                                             for tp in stalled))
            await app.consumer.perform_seek()

    app.timer(settings.stall_reseek_seconds / 3)(reseek_stalled_partitions)

    async def restore_log_level() -> None:
        # At -l warn and above Faust's worker sets the root logger to DEBUG so that its terminal
        # spinner moves on every record: each library then builds its debug records (aiokafka
        # one per message sent, 8 % of a busy worker's time). Its first handler keeps the chosen
        # level, which the root logger gets back.
        handlers = logging.root.handlers
        if handlers and handlers[0].level > logging.root.level:
            logging.root.setLevel(handlers[0].level)

    app.task(restore_log_level)

    async def quiet_kafka_outages() -> None:
        outage.install(kafka_outage)  # after Faust has set up its log handlers
        await outage.probe_kafka(kafka_outage, settings.kafka_bootstrap)

    app.task(quiet_kafka_outages)

    async def follow_registry() -> None:
        while True:  # the directory is vital: a failure restarts the follower, never ends it
            try:
                await follower.run()
            except Exception:
                metrics.agent_restarts.labels("registry_follower").inc()
                log.exception("registry follower failed; restarting in 5 s")
                await asyncio.sleep(5)

    app.task(follow_registry)

    async def deliver_alerts() -> None:
        try:
            await notifier.run()
        finally:
            await notifier.close()

    app.task(deliver_alerts)

    async def reoffer_firing_alerts() -> None:
        # The notifier's queue lives in memory: the firing set, re-offered from the table,
        # rebuilds it after a restart or a rebalance (Alertmanager dedups by labels).
        now = time.time()
        for message in pipeline.firing():
            notifier.offer(message, now)

    app.timer(settings.alertmanager_resend_seconds)(reoffer_firing_alerts)

    @app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        # aiohttp takes the charset apart from the content type
        return web.bytes(generate_latest(registry), content_type=METRICS_CONTENT_TYPE)

    return app


def _state_table(app: faust.App, settings: Settings) -> faust.Table[str, Any]:
    # Keyed by point_id; a point's record lives in the changelog partition numbered like the
    # input partition its messages arrive on (producers key every topic by point_id). A bytes
    # key type gives the raw key codec (str keys are encoded as UTF-8), values are JSON.
    return cast(
        faust.Table[str, Any],
        app.Table(topics.STATE_TABLE, partitions=settings.topic_partitions, key_type=bytes,
                  options=ROCKSDB_OPTIONS),
    )



def _pipeline(
    app: faust.App,
    publish: BatchProducer,
    settings: Settings,
    directory: PointDirectory,
    sink: DatabaseSink,
    metrics: PipelineMetrics,
    events: ingest.PartitionEvents,
    alerts: AlertProcessor,
    on_alert: Callable[[dict[str, Any]], None],
) -> Pipeline:
    def count_late(topic: str, n: int) -> None:
        metrics.late_events.labels(topic).inc(n)

    return Pipeline(
        fuel=FuelProcessor(directory),
        occupancy=OccupancyProcessor(
            directory,
            OccupancyConfig(max_dwell_seconds=settings.occupancy_max_dwell_seconds,
                            allowed_lateness_seconds=settings.event_lateness_seconds),
            count_late,
        ),
        liveness=LivenessProcessor(
            directory,
            StalenessConfig(silence_after_seconds=settings.silence_after_seconds,
                            activation_deadline_seconds=settings.activation_deadline_seconds),
        ),
        alerts=alerts,
        on_alert=on_alert,
        sink=sink,
        publish=publish.send_all,
        metrics=metrics,
        lag_guard=LagGuardConfig(settings.lag_guard_max_backlog_messages,
                                 settings.lag_guard_max_watermark_delay_seconds),
        event_clock=settings.clock == "event",
        table=_state_table(app, settings),
        scope=events,
    )


app = create_app(get_settings())
