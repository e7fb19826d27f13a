"""Counting what the simulator published, and the progress line and summary it prints."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from streams.kafka.topics import ACTIVATIONS, REGISTRY, TELEMETRY, VISITS

TOPICS = (REGISTRY, TELEMETRY, VISITS, ACTIVATIONS)
BAD = "bad"


class Tally:
    """Messages published per topic, malformed ones counted apart under ``bad``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter({topic: 0 for topic in (*TOPICS, BAD)})
        self._last_counts: Counter[str] = Counter()
        self._last_wall: float | None = None

    def summary(self) -> dict[str, int]:
        """``{topic: valid messages, ..., "bad": malformed messages}``, the --summary-json body."""
        return {name: self.counts[name] for name in (*TOPICS, BAD)}

    def progress_line(self, sim_time: float, wall: float) -> str:
        """One line: simulated time, messages/s per stream topic since the last line, totals."""
        since = None if self._last_wall is None else wall - self._last_wall
        rates = []
        for topic in (TELEMETRY, VISITS, ACTIVATIONS):
            delta = self.counts[topic] - self._last_counts[topic]
            rate = f"{delta / since:,.0f}/s" if since else "-"
            rates.append(f"{topic.removeprefix('points.')} {rate}")
        stream = sum(self.counts[topic] for topic in (TELEMETRY, VISITS, ACTIVATIONS, BAD))
        last_stream = sum(
            self._last_counts[topic] for topic in (TELEMETRY, VISITS, ACTIVATIONS, BAD)
        )
        total_rate = f"{(stream - last_stream) / since:,.0f}/s" if since else "-"
        self._last_counts = Counter(self.counts)
        self._last_wall = wall
        stamp = datetime.fromtimestamp(sim_time, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"sim {stamp}Z | {' '.join(rates)} | all {total_rate} | "
            f"total {sum(self.counts.values()):,} (bad {self.counts[BAD]:,})"
        )

    def summary_lines(self, wall_seconds: float, sim_seconds: float) -> list[str]:
        """The closing summary: counts per topic and the average stream rate."""
        lines = [f"{name:<20} {count:>12,}" for name, count in self.summary().items()]
        stream = sum(self.counts.values()) - self.counts[REGISTRY]
        rate = stream / wall_seconds if wall_seconds > 0 else 0.0
        lines.append(
            f"simulated {sim_seconds / 60:,.1f} min in {wall_seconds:,.1f} s of wall time: "
            f"{rate:,.0f} stream messages/s"
        )
        return lines
