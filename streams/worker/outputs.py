"""What processing a batch produces: messages for output topics and rows for the database."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outputs:
    """Collected per batch, then published and written in one go by the pipeline."""

    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def emit(self, topic: str, key: str, message: dict[str, Any], *, store: bool = False) -> None:
        """Queue ``message`` for ``topic``; ``store`` also queues it as a database row."""
        self.messages.append((topic, key, message))
        if store:
            self.rows[topic].append(message)

    def store(self, topic: str, row: dict[str, Any]) -> None:
        """Queue ``row`` (shaped like a ``topic`` message) for the database only."""
        self.rows[topic].append(row)
