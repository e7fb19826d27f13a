"""Prometheus metrics of the workers, on an injected registry (tests pass a fresh one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "nezlam"

_BATCH_ROWS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class PipelineMetrics:
    """Every metric a worker exports; one instance per process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages_in = Counter(
            "messages_in_total", "Messages consumed, by topic.", ["topic"],
            namespace=NAMESPACE, subsystem="ingest", registry=registry,
        )
        self.rejects = Counter(
            "rejects_total", "Messages sent to the dead-letter topic, by topic and reason.",
            ["topic", "reason"], namespace=NAMESPACE, subsystem="ingest", registry=registry,
        )
        self.event_delay = Histogram(
            "event_delay_seconds", "Wall clock minus message ts when the message is processed.",
            ["topic"], namespace=NAMESPACE, subsystem="ingest", registry=registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.rows = Counter(
            "rows_total", "Rows given to the database, by table and outcome (written, duplicate).",
            ["table", "outcome"], namespace=NAMESPACE, subsystem="sink", registry=registry,
        )
        self.batch_rows = Histogram(
            "batch_rows", "Rows per database batch.", ["table"],
            namespace=NAMESPACE, subsystem="sink", registry=registry, buckets=_BATCH_ROWS,
        )
        self.write_seconds = Histogram(
            "write_seconds", "Time to write one batch to the database.", ["table"],
            namespace=NAMESPACE, subsystem="sink", registry=registry, buckets=_SECONDS,
        )
        self.messages_out = Counter(
            "messages_out_total", "Messages produced to output topics, by topic.", ["topic"],
            namespace=NAMESPACE, subsystem="pipeline", registry=registry,
        )
        self.sink_errors = Counter(
            "errors_total",
            "Failed database writes, by table and error class (connection errors are retried; "
            "refused rows are dead-lettered).",
            ["table", "error"], namespace=NAMESPACE, subsystem="sink", registry=registry,
        )
        self.sink_retries = Counter(
            "retries_total", "Database writes retried after a connection error, by table.",
            ["table"], namespace=NAMESPACE, subsystem="sink", registry=registry,
        )
        self.deadletter_send_failures = Counter(
            "send_failures_total",
            "Attempts to send a batch's dead letters that failed (retried; the batch waits).",
            namespace=NAMESPACE, subsystem="deadletter", registry=registry,
        )
        self.send_retries = Counter(
            "send_retries_total",
            "Sends of output messages to Kafka that failed and were retried, by topic.",
            ["topic"], namespace=NAMESPACE, subsystem="pipeline", registry=registry,
        )
        self.retirements = Counter(
            "retirements_total", "Registry tombstones: points taken out of use.",
            namespace=NAMESPACE, subsystem="registry", registry=registry,
        )
        self.stall_reseeks = Counter(
            "stall_reseeks_total", "Partitions read again from their committed offset after "
            "their commit stalled behind what was processed.",
            ["topic", "partition"], namespace=NAMESPACE, subsystem="worker", registry=registry,
        )
        self.agent_restarts = Counter(
            "restarts_total", "Background tasks of the worker restarted after a failure, by task.",
            ["task"], namespace=NAMESPACE, subsystem="worker", registry=registry,
        )
        self.alert_delivery_failures = Counter(
            "delivery_failures_total", "Failed posts of alerts to an Alertmanager, by URL.",
            ["url"], namespace=NAMESPACE, subsystem="alertmanager", registry=registry,
        )
        self.alert_queue = Gauge(
            "queue_alerts", "Alerts waiting to be delivered to Alertmanager.",
            namespace=NAMESPACE, subsystem="alertmanager", registry=registry,
        )
        self.forecasts = Counter(
            "forecasts_total", "Fuel forecasts made.", namespace=NAMESPACE,
            subsystem="fuel", registry=registry,
        )
        self.late_events = Counter(
            "late_events_total",
            "Events older than the lateness bound, stored but left out of the computations.",
            ["topic"], namespace=NAMESPACE, subsystem="pipeline", registry=registry,
        )
        self.points_by_state = Gauge(
            "by_state", "Points by state (open, standby, closed, silent, unknown) on this worker.",
            ["state"], namespace=NAMESPACE, subsystem="points", registry=registry,
        )
        self.activation_overdue = Gauge(
            "activation_overdue", "Standby points asked to open that have not opened in time.",
            namespace=NAMESPACE, subsystem="points", registry=registry,
        )
        self.consumer_lag = Gauge(
            "lag_messages", "Messages behind the end of each input topic, on this worker.",
            ["topic"], namespace=NAMESPACE, subsystem="consumer", registry=registry,
        )
        self.stream_time = Gauge(
            "stream_time_seconds", "Each task's stream time: the newest event time it has "
            "processed, or the wall clock's once every input is caught up (epoch seconds).",
            ["partition"], namespace=NAMESPACE, subsystem="task", registry=registry,
        )
        self.task_buffered = Gauge(
            "buffered_messages", "Messages a task has received and holds back for the event-time "
            "merge of its inputs.", ["partition"], namespace=NAMESPACE, subsystem="task",
            registry=registry,
        )
        self.points_known = Gauge(
            "points_known", "Points in the registry this worker knows.",
            namespace=NAMESPACE, subsystem="registry", registry=registry,
        )
