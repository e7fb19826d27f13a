"""What processing a batch produces: messages for output topics and rows for the database."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from streams.domain.alert_model import AlertEvent
from streams.kafka import topics


@dataclass
class Outputs:
    """Collected per batch, then published and written in one go by the pipeline."""

    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    alerts: list[AlertEvent] = field(default_factory=list)
    # (topic, key) -> message: only the newest of a batch is sent
    newest: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def emit(self, topic: str, key: str, message: dict[str, Any], *, store: bool = False) -> None:
        """Queue ``message`` for ``topic``; ``store`` also queues it as a database row."""
        self.messages.append((topic, key, message))
        if store:
            self.rows[topic].append(message)

    def latest(self, topic: str, key: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for ``topic`` in place of any queued before under ``key``."""
        self.newest[(topic, key)] = message

    def settle(self) -> None:
        """Move the newest messages among the others (before sending)."""
        for (topic, key), message in self.newest.items():
            self.emit(topic, key, message)
        self.newest.clear()

    def alert(self, event: AlertEvent) -> None:
        """Queue an alert event: its message for the ``alerts`` topic and the ``alert_events``
        table, and the event itself for Alertmanager (which reads its times as they are, not
        back from the wire format)."""
        self.emit(topics.ALERTS, event.point_id, event.to_message(), store=True)
        self.alerts.append(event)

    def store(self, topic: str, row: dict[str, Any]) -> None:
        """Queue ``row`` (shaped like a ``topic`` message) for the database only."""
        self.rows[topic].append(row)
