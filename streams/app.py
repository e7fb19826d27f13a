"""The Faust application: ``create_app(settings)`` builds it; ``app`` is what ``faust -A`` runs.

Run a worker with ``nezlam worker`` (or ``faust -A streams.app worker -l info``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from psycopg_pool import AsyncConnectionPool

from streams.agents import ingest
from streams.config import Settings, get_settings
from streams.contract import Contract
from streams.metrics import PipelineMetrics
from streams.point_directory import PointDirectory, RegistryFollower
from streams.sinks.database import DatabaseSink

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    """A Faust app with the ingest agents, the registry follower and ``/metrics``."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(settings.state_dir / "worker"),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        web_port=settings.web_port,
        web_bind="0.0.0.0",
        producer_acks=-1,
    )
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    contract = Contract(max_future_skew_seconds=settings.max_future_skew_seconds)
    follower = RegistryFollower(
        settings.kafka_bootstrap, contract, PointDirectory(), on_change=metrics.points_known.set
    )
    pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=4, open=False)
    deadletter = app.topic(settings.deadletter_topic, key_type=bytes, value_type=bytes)

    async def send_deadletter(key: bytes | None, value: bytes) -> None:
        await deadletter.send(key=key, value=value, force=True)

    ingestor = ingest.Ingestor(contract, DatabaseSink(pool), follower, send_deadletter, metrics)
    ingest.register(
        app, ingestor, batch_size=settings.sink_batch_size, within=settings.sink_batch_seconds
    )

    async def follow_registry() -> None:
        while True:  # the directory is vital: a failure restarts the follower, never ends it
            try:
                await follower.run()
            except Exception:
                log.exception("registry follower failed; restarting in 5 s")
                await asyncio.sleep(5)

    app.task(follow_registry)

    @app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return app


app = create_app(get_settings())
