"""Fast time helpers for the hot loop: RFC 3339 stamps and Kyiv local time of epoch seconds.

The simulator stamps hundreds of thousands of messages per second of wall time, so both
helpers cache per whole second or hour: ``datetime`` objects per message would dominate.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
_HOUR = 3600


class Stamper:
    """Formats epoch seconds as RFC 3339 UTC with milliseconds (``2025-01-15T06:30:00.250Z``)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, t: float) -> str:
        """The stamp of ``t``; messages come in time order, so the second's prefix is reused."""
        second = int(t)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        millis = int((t - second) * 1000)
        return f"{self._prefix}.{millis:03d}Z"


class KyivClock:
    """Kyiv local time of epoch seconds, with the UTC offset cached per hour (DST-aware)."""

    __slots__ = ("_hour", "_offset")

    def __init__(self) -> None:
        self._hour = -1
        self._offset = 0.0

    def offset(self, t: float) -> float:
        """Seconds Kyiv is ahead of UTC at ``t`` (7200 in winter, 10800 in summer)."""
        hour = int(t) // _HOUR
        if hour != self._hour:
            self._hour = hour
            moment = datetime.fromtimestamp(hour * _HOUR, UTC).astimezone(KYIV)
            delta = moment.utcoffset()
            self._offset = delta.total_seconds() if delta is not None else 0.0
        return self._offset

    def hour(self, t: float) -> float:
        """Local hour of day at ``t`` as a float in [0, 24)."""
        return ((t + self.offset(t)) % 86400.0) / _HOUR
