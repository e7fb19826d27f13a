"""The worker's parts, built from the settings and wired together, with no Faust in sight.

:mod:`streams.worker.faust_app` hands them Faust's table, partition scope and consumer facts
and runs their methods as agents, tasks and timers; tests build the same parts in-process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from psycopg_pool import AsyncConnectionPool

from streams.alerting.alertmanager import AlertmanagerNotifier
from streams.config import Settings
from streams.contract import Contract
from streams.domain.alert_rules import AlertRules
from streams.domain.occupancy import OccupancyConfig
from streams.domain.staleness import StalenessConfig
from streams.kafka import outage
from streams.kafka.client import client_kwargs
from streams.kafka.outage import OutageLog
from streams.sinks.database import DatabaseSink
from streams.sinks.kafka_outputs import BatchProducer
from streams.worker.checkpoint import Destinations
from streams.worker.computations import Pipeline
from streams.worker.dispatch_plans import PlanFollower
from streams.worker.ingest import Ingestor
from streams.worker.metrics import PipelineMetrics
from streams.worker.partition_scope import PartitionScope
from streams.worker.point_directory import PointDirectory, RegistryFollower

log = logging.getLogger(__name__)


def build_contract(settings: Settings) -> Contract:
    """The input contract with the configured limits."""
    return Contract(
        max_future_skew_seconds=settings.max_future_skew_seconds,
        max_age_seconds=settings.max_event_age_seconds,
        max_message_bytes=settings.max_message_bytes,
    )


def build_pipeline(
    settings: Settings,
    rules: AlertRules,
    directory: PointDirectory,
    destinations: Destinations,
    table: MutableMapping[Any, Any],
    scope: PartitionScope,
    plans: PlanFollower | None = None,
) -> Pipeline:
    """The stream tasks, configured from ``settings``, over the points of ``directory``;
    ``plans``: the current dispatch plans the fuel alerts name trucks from (none: no trucks)."""
    return Pipeline(
        directory=directory,
        rules=rules,
        staleness=StalenessConfig(silence_after_seconds=settings.silence_after_seconds,
                                  activation_deadline_seconds=settings.activation_deadline_seconds),
        occupancy=OccupancyConfig(max_dwell_seconds=settings.occupancy_max_dwell_seconds,
                                  allowed_lateness_seconds=settings.event_lateness_seconds),
        destinations=destinations,
        event_clock=settings.clock == "event",
        lateness_seconds=settings.event_lateness_seconds,
        max_idle_seconds=settings.max_task_idle_seconds,
        table=table,
        scope=scope,
        **({"plans": plans.current} if plans else {}),
    )


@dataclass(frozen=True, slots=True)
class WorkerParts:
    """Everything one worker runs besides Faust itself."""

    settings: Settings
    registry: CollectorRegistry
    metrics: PipelineMetrics
    follower: RegistryFollower
    notifier: AlertmanagerNotifier
    output_producer: BatchProducer
    kafka_outage: OutageLog
    ingestor: Ingestor
    pipeline: Pipeline
    plans: PlanFollower

    @classmethod
    def build(
        cls,
        settings: Settings,
        rules: AlertRules,
        table: MutableMapping[Any, Any],
        scope: PartitionScope,
    ) -> WorkerParts:
        """The parts for ``settings``, keeping per-point records in ``table``."""
        registry = CollectorRegistry()
        metrics = PipelineMetrics(registry)
        contract = build_contract(settings)
        follower = RegistryFollower(
            client_kwargs(settings), contract, PointDirectory(),
            on_change=metrics.points_known.set,
        )
        pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=4, open=False)
        sink = DatabaseSink(
            pool,
            on_error=lambda table_name, error: metrics.sink_errors.labels(table_name, error).inc(),
            on_retry=lambda table_name: metrics.sink_retries.labels(table_name).inc(),
        )
        notifier = AlertmanagerNotifier.from_settings(
            settings, on_failure=lambda url: metrics.alert_delivery_failures.labels(url).inc()
        )
        metrics.alert_queue.set_function(notifier.queued)
        kafka_outage = OutageLog("Kafka")

        def count_send_retry(topic_names: set[str]) -> None:
            for name in topic_names:
                metrics.send_retries.labels(name).inc()
            if settings.deadletter_topic in topic_names:
                metrics.deadletter_send_failures.inc()

        output_producer = BatchProducer(client_kwargs(settings), on_retry=count_send_retry,
                                outage=kafka_outage)
        destinations = Destinations(
            sink=sink,
            publish=output_producer.send_all,
            offer_alert=lambda event: notifier.offer(event, time.time()),
            metrics=metrics,
            deadletter_topic=settings.deadletter_topic,
        )
        plans = PlanFollower(settings.database_url, settings.dispatch_plan_max_age_seconds)
        pipeline = build_pipeline(settings, rules, follower.directory, destinations, table, scope,
                                  plans)
        ingestor = Ingestor(contract, sink, follower, metrics, pipeline,
                            batch_size=settings.sink_batch_size)
        return cls(settings, registry, metrics, follower, notifier, output_producer, kafka_outage,
                   ingestor, pipeline, plans)

    async def follow_registry(self) -> None:
        """Follow the registry for good: the directory is vital, a failure restarts it."""
        while True:
            try:
                await self.follower.run()
            except Exception:
                self.metrics.agent_restarts.labels("registry_follower").inc()
                log.exception("registry follower failed; restarting in 5 s")
                await asyncio.sleep(5)

    async def deliver_alerts(self) -> None:
        """Deliver alerts to Alertmanager until cancelled."""
        try:
            await self.notifier.run()
        finally:
            await self.notifier.close()

    def take_over_firing_alerts(self) -> None:
        """After a start or a rebalance, once the records are restored: the firing alerts of
        the points this worker now owns, read from their records, become what it sends to
        Alertmanager (the notifier's outboxes live in memory). Reading every record takes a
        while, so this runs once per rebalance, not on a timer."""
        self.notifier.take_over(self.pipeline.firing(), time.time())

    async def quiet_kafka_outages(self) -> None:
        """One log line per Kafka outage instead of one per failing client call."""
        outage.install(self.kafka_outage)  # after Faust has set up its log handlers
        await outage.probe_kafka(self.kafka_outage, self.settings.kafka_bootstrap)

    def metrics_text(self) -> bytes:
        """The Prometheus exposition of the worker's metrics."""
        return generate_latest(self.registry)
