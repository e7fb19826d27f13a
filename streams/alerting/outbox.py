"""What to send to one Alertmanager, and when: the notifier's scheduling, without I/O.

Alertmanager keeps no alerts across a restart and forgets a firing alert that is not re-sent
within its ``resolve_timeout`` (5 min by default), so a client re-sends what fires (every
``resend_seconds``, 60 s by default) and re-sends a resolution for a few minutes
(``resolved_resend_seconds``). One :class:`Outbox` per Alertmanager URL holds the current
version of every alert it must know about:

* an offered alert event replaces an older version of the same fingerprint and is due at once;
  an older or repeated event changes nothing;
* after a successful post an alert is due again ``resend_seconds`` later; a resolution is
  dropped ``resolved_resend_seconds`` after its *first successful* post, so a resolution made
  while Alertmanager is down is still delivered when it comes back;
* a failed post (Alertmanager down, a 5xx, a timeout) delays the next attempt with exponential
  backoff and keeps everything, so nothing firing and no resolution is lost.

The caller owns the clock: every method takes ``now`` (epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.domain.alert_model import AlertEvent
from streams.domain.timestamps import iso


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How often to re-send, how long to repeat a resolution, how to back off (seconds)."""

    resend_seconds: float = 60.0
    resolved_resend_seconds: float = 300.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    batch_size: int = 500  # alerts per POST

    def __post_init__(self) -> None:
        if self.resend_seconds <= 0 or self.backoff_initial_seconds <= 0:
            raise ValueError("resend_seconds and backoff_initial_seconds must be positive")
        if self.backoff_max_seconds < self.backoff_initial_seconds or self.batch_size < 1:
            raise ValueError("backoff_max_seconds must be >= backoff_initial_seconds, batch >= 1")


@dataclass(frozen=True, slots=True)
class Batch:
    """Alerts to post in one request (Alertmanager v2 JSON) and what they were a version of."""

    alerts: list[dict[str, Any]]
    versions: list[tuple[str, int]]  # (fingerprint, version) of each alert


@dataclass(slots=True)
class _Entry:
    event_ts: float  # the message's ts: a newer message replaces an older one
    resolved: bool
    alert: dict[str, Any]
    version: int
    next_send_at: float
    drop_after: float | None = None  # a resolution: when to stop repeating it


class Outbox:
    """The alerts one Alertmanager must be told about, and when."""

    def __init__(self, policy: DeliveryPolicy) -> None:
        self._policy = policy
        self._entries: dict[str, _Entry] = {}
        self._version = 0
        self._failures = 0
        self.retry_at = 0.0  # no attempt before this time (backoff after a failure)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def failures(self) -> int:
        """Failed attempts in a row (0 after a success)."""
        return self._failures

    def offer(self, event: AlertEvent, now: float) -> bool:
        """Take an alert event; True when it is news (a new alert or a newer version)."""
        resolved = event.status == "resolved"
        current = self._entries.get(event.fingerprint)
        if current is not None and (
            event.ts < current.event_ts
            or (event.ts == current.event_ts and (current.resolved or not resolved))
        ):
            return False  # older, or the same: of two events at one ts the resolution wins
        self._version += 1
        self._entries[event.fingerprint] = _Entry(
            event_ts=event.ts,
            resolved=resolved,
            alert=to_alertmanager(event),
            version=self._version,
            next_send_at=now,
        )
        return True

    def keep_firing_only(self, fingerprints: set[str]) -> int:
        """Forget the firing alerts not in ``fingerprints`` (their points went to another
        worker, which sends them from now on); resolutions are kept. Returns how many."""
        gone = [fingerprint for fingerprint, entry in self._entries.items()
                if not entry.resolved and fingerprint not in fingerprints]
        for fingerprint in gone:
            del self._entries[fingerprint]
        return len(gone)

    def due(self, now: float) -> Batch | None:
        """The alerts to post now (oldest due first), or None: nothing due, or backing off."""
        self._drop_finished(now)
        if now < self.retry_at:
            return None
        due = sorted(
            (entry.next_send_at, fingerprint)
            for fingerprint, entry in self._entries.items()
            if entry.next_send_at <= now
        )[: self._policy.batch_size]
        if not due:
            return None
        entries = [(fingerprint, self._entries[fingerprint]) for _, fingerprint in due]
        return Batch(
            alerts=[entry.alert for _, entry in entries],
            versions=[(fingerprint, entry.version) for fingerprint, entry in entries],
        )

    def delivered(self, batch: Batch, now: float) -> None:
        """Alertmanager accepted ``batch``: schedule the re-sends."""
        self._failures = 0
        self.retry_at = 0.0
        for fingerprint, version in batch.versions:
            entry = self._entries.get(fingerprint)
            if entry is None or entry.version != version:
                continue  # replaced while the post was in flight: the new version is due
            entry.next_send_at = now + self._policy.resend_seconds
            if entry.resolved and entry.drop_after is None:
                entry.drop_after = now + self._policy.resolved_resend_seconds

    def failed(self, now: float) -> float:
        """The post failed: back off; returns the delay before the next attempt."""
        self._failures += 1
        exponent = min(self._failures - 1, 30)  # 2**30 s is past any sensible maximum
        delay = min(
            self._policy.backoff_initial_seconds * 2.0**exponent, self._policy.backoff_max_seconds
        )
        self.retry_at = now + delay
        return delay

    def _drop_finished(self, now: float) -> None:
        finished = [
            fingerprint
            for fingerprint, entry in self._entries.items()
            if entry.drop_after is not None and entry.drop_after <= now
        ]
        for fingerprint in finished:
            del self._entries[fingerprint]


def to_alertmanager(event: AlertEvent) -> dict[str, Any]:
    """An alert event as one alert of Alertmanager's ``POST /api/v2/alerts``.

    A firing alert carries no ``endsAt``: Alertmanager keeps it for ``resolve_timeout`` after
    each re-send. A resolution carries ``endsAt``, which resolves it at once.
    """
    alert: dict[str, Any] = {
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "startsAt": iso(event.starts_at),
    }
    if event.status == "resolved":
        alert["endsAt"] = iso(event.ts if event.ends_at is None else event.ends_at)
    return alert
