"""Quiet outages: one warning per component every 30 s while Kafka or PostgreSQL is away.

Without this, a broker stopped for 40 s made aiokafka and Faust log thousands of lines
("Unable connect to node", "Unable to update metadata", NodeNotReadyError). Here a
:class:`OutageLog` per component turns failures into a few lines an operator reads:
``Kafka unreachable (...), retrying``, ``Kafka unreachable for 30 s, retrying`` every 30 s,
then ``Kafka reachable again after 38 s``. :class:`ClientNoiseFilter` swallows the client
libraries' own connection complaints and reports them to the Kafka outage log instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

log = logging.getLogger("streams.kafka.outage")

WARN_EVERY_SECONDS = 30.0


class OutageLog:
    """The outage state of one component and the lines it is due to log (pure: ``now`` in).

    :meth:`failed` and :meth:`recovered` return the line to log, or None when nothing is due.
    """

    def __init__(self, component: str, warn_every_seconds: float = WARN_EVERY_SECONDS) -> None:
        self.component = component
        self._every = warn_every_seconds
        self.down_since: float | None = None
        self._warned_at = 0.0
        self.last_failure = 0.0

    @property
    def down(self) -> bool:
        """Whether the component is unreachable now, as far as we know."""
        return self.down_since is not None

    def failed(self, now: float, error: object = None) -> str | None:
        """A failure was seen at ``now``."""
        self.last_failure = now
        if self.down_since is None:
            self.down_since = self._warned_at = now
            detail = f" ({error})" if error is not None else ""
            return f"{self.component} unreachable{detail}, retrying"
        return self.reminder(now)

    def reminder(self, now: float) -> str | None:
        """The periodic line of an ongoing outage, when one is due (records no failure)."""
        if self.down_since is None or now - self._warned_at < self._every:
            return None
        self._warned_at = now
        return f"{self.component} unreachable for {now - self.down_since:.0f} s, retrying"

    def recovered(self, now: float) -> str | None:
        """A success was seen at ``now``."""
        if self.down_since is None:
            return None
        line = f"{self.component} reachable again after {now - self.down_since:.0f} s"
        self.down_since = None
        return line


def report(line: str | None, level: int = logging.WARNING) -> None:
    """Log a line an :class:`OutageLog` returned, if any."""
    if line is not None:
        log.log(level, line)


# What aiokafka and Faust say, many times a second, while a broker is away.
_CONNECTION_WORDS = (
    "unable connect", "unable to connect", "unable to update metadata", "nodenotready",
    "kafkaconnectionerror", "connection refused", "connect call failed", "failed fetch messages",
    "unable to request metadata", "coordinator", "requesttimedout", "no broker available",
    "heartbeat failed", "kafkatimeouterror",
)
_CLIENT_LOGGERS = ("aiokafka", "faust", "mode", "kafka")


class ClientNoiseFilter(logging.Filter):
    """Drops the Kafka clients' connection complaints and reports them to ``kafka`` instead;
    while Kafka is down, drops every warning of those libraries (they all say the same)."""

    def __init__(self, kafka: OutageLog, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._kafka = kafka
        self._clock = clock

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(_CLIENT_LOGGERS):
            return True
        text = record.getMessage().lower()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {type(record.exc_info[1]).__name__} {record.exc_info[1]}".lower()
        if any(word in text for word in _CONNECTION_WORDS):
            report(self._kafka.failed(self._clock(), record.getMessage()[:120]))
            return False
        return not self._kafka.down


async def probe_kafka(
    kafka: OutageLog,
    bootstrap: Sequence[str],
    *,
    every_seconds: float = 5.0,
    quiet_seconds: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Declare Kafka reachable again once a broker accepts connections and the clients have
    stopped complaining for ``quiet_seconds``; runs until cancelled."""
    while True:
        await asyncio.sleep(every_seconds)
        if not kafka.down:
            continue
        now = clock()
        if now - kafka.last_failure >= quiet_seconds and await _any_accepts(bootstrap):
            report(kafka.recovered(now), logging.INFO)
        else:
            report(kafka.reminder(now))


async def _any_accepts(bootstrap: Sequence[str]) -> bool:
    for address in bootstrap:
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2.0)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


def install(kafka: OutageLog) -> None:
    """Put the filter on every handler of the root logger (where the clients' records go)."""
    noise = ClientNoiseFilter(kafka)
    for handler in logging.root.handlers:
        if not any(isinstance(f, ClientNoiseFilter) for f in handler.filters):
            handler.addFilter(noise)
