"""A snapshot of what flows through the pipeline: topic offsets, worker metrics, database rows.

Read-only; used by the live view of ``nezlam run``. Every source is optional: a snapshot taken
while a service is still starting simply lacks that part.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from streams.config import Settings
from streams.kafka.client import client_kwargs
from streams.kafka.offsets import end_offsets
from streams.kafka.topics import all_topics

_ROW_COUNTS = """
SELECT relname, n_tup_ins FROM pg_stat_user_tables
WHERE relname IN ('points', 'telemetry', 'visits', 'activations', 'occupancy', 'fuel_forecast',
                  'alert_events')
"""
_POINTS_BY_STATE = """
SELECT CASE WHEN last_seen IS NULL THEN 'never reported'
            WHEN last_seen < now() - interval '5 minutes' THEN 'silent'
            ELSE status END AS state,
       count(*)
FROM point_status GROUP BY 1
"""
_DRIEST = """
SELECT point_id, name, oblast, hours_to_empty, hours_until_refuel_due
FROM refuel_plan WHERE hours_to_empty IS NOT NULL
ORDER BY hours_until_refuel_due LIMIT 10
"""
# Silence as the database sees it: last report older than the kind's threshold (the worker's
# own, lag-aware judgement is published on points.state).
_SILENT = """
SELECT point_id, name, oblast, kind, last_seen FROM point_status
WHERE last_seen < now()
      - make_interval(secs => coalesce((%(thresholds)s::jsonb ->> kind)::float, 900))
ORDER BY last_seen LIMIT 10
"""
_CROWDED = """
SELECT o.point_id, p.name, p.oblast, o.people_inside, p.capacity_people, o.utilisation
FROM (SELECT DISTINCT ON (point_id) point_id, people_inside, utilisation FROM occupancy
      WHERE ts > now() - interval '15 minutes' ORDER BY point_id, ts DESC) AS o
JOIN points AS p USING (point_id)
ORDER BY o.utilisation DESC NULLS LAST LIMIT 10
"""
_ALERTS = """
SELECT alertname, severity, point_id, oblast, summary FROM alerts_active
ORDER BY severity = 'critical' DESC, ts DESC LIMIT 10
"""


@dataclass
class Snapshot:
    """Counters at one moment; rates come from the difference of two snapshots."""

    taken_at: float
    topic_offsets: dict[str, int] = field(default_factory=dict)
    worker: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    points_by_state: dict[str, int] = field(default_factory=dict)
    driest: list[tuple[Any, ...]] = field(default_factory=list)
    silent: list[tuple[Any, ...]] = field(default_factory=list)
    crowded: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def worker_sum(self, metric: str, *labels: str) -> dict[tuple[str, ...], float]:
        """Sum a worker metric's samples grouped by the given labels."""
        sums: dict[tuple[str, ...], float] = defaultdict(float)
        for name, sample_labels, value in self.worker:
            if name == metric:
                sums[tuple(sample_labels.get(label, "") for label in labels)] += value
        return dict(sums)


class StatusReader:
    """Takes :class:`Snapshot` s of the local pipeline."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def snapshot(self) -> Snapshot:
        """Read every source once; failures are noted in ``errors``, never raised."""
        snap = Snapshot(taken_at=asyncio.get_running_loop().time())
        results = await asyncio.gather(
            self._topic_offsets(), self._worker_metrics(), self._database(),
            return_exceptions=True,
        )
        offsets, worker, database = results
        for name, result in (("kafka", offsets), ("worker", worker), ("database", database)):
            if isinstance(result, BaseException):
                snap.errors.append(f"{name}: {type(result).__name__}: {result}")
        if isinstance(offsets, dict):
            snap.topic_offsets = offsets
        if isinstance(worker, list):
            snap.worker = worker
        if isinstance(database, Snapshot):
            snap.table_rows, snap.points_by_state = database.table_rows, database.points_by_state
            snap.driest, snap.silent = database.driest, database.silent
            snap.crowded, snap.alerts = database.crowded, database.alerts
        return snap

    async def _topic_offsets(self) -> dict[str, int]:
        names = [spec.name for spec in all_topics(self._settings.deadletter_topic)]
        totals: dict[str, int] = dict.fromkeys(names, 0)
        for tp, end in (await end_offsets(client_kwargs(self._settings), names)).items():
            totals[tp.topic] += end
        return totals

    async def _worker_metrics(self) -> list[tuple[str, dict[str, str], float]]:
        url = f"http://127.0.0.1:{self._settings.web_port}/metrics"
        text = await asyncio.to_thread(_fetch, url)
        return [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    async def _database(self) -> Snapshot:
        thresholds = {"thresholds": json.dumps(self._settings.silence_after_seconds)}
        async with await psycopg.AsyncConnection.connect(
            self._settings.database_url, connect_timeout=3, autocommit=True
        ) as conn:
            rows = await (await conn.execute(_ROW_COUNTS)).fetchall()
            states = await (await conn.execute(_POINTS_BY_STATE)).fetchall()
            return Snapshot(
                taken_at=0.0,
                table_rows={name: int(n) for name, n in rows},
                points_by_state={state: int(n) for state, n in states},
                driest=await (await conn.execute(_DRIEST)).fetchall(),
                silent=await (await conn.execute(_SILENT, thresholds)).fetchall(),
                crowded=await (await conn.execute(_CROWDED)).fetchall(),
                alerts=await (await conn.execute(_ALERTS)).fetchall(),
            )


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        body: bytes = response.read()
    return body.decode()
