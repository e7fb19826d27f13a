"""The one timestamp format the pipeline writes on the wire and in its records."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """Epoch seconds as RFC 3339 in UTC with a ``Z`` (``2026-01-10T06:00:00.250Z``), to the
    microsecond the number holds (no fraction when there is none)."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
