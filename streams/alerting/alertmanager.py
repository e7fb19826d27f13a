"""Delivery of alerts to Prometheus Alertmanager (``POST /api/v2/alerts``).

Alertmanager does the grouping, silencing, inhibition and the Telegram / e-mail / webhook
notifications; this module only keeps every Alertmanager told. Each URL gets every alert
(Alertmanager's HA model: the instances gossip to de-duplicate notifications) and has its own
:class:`~streams.alerting.outbox.Outbox`, so one instance being down delays nothing for the
others and loses nothing for itself. The scheduling lives in the outbox; here is only the HTTP.

Use: :meth:`AlertmanagerNotifier.offer` every ``alerts`` message (and, after a restart or a
rebalance, the firing alerts of the state table: ``AlertState.firing()``), and call
:meth:`AlertmanagerNotifier.deliver_due` every second or so, or run
:meth:`AlertmanagerNotifier.run` as a task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import aiohttp

from streams.alerting.outbox import Batch, DeliveryPolicy, Outbox
from streams.config import Settings
from streams.domain.alert_model import AlertEvent

log = logging.getLogger(__name__)

API_PATH = "/api/v2/alerts"


class AlertmanagerNotifier:
    """Posts alerts to every Alertmanager in ``urls`` (base URLs, e.g. http://am:9093)."""

    def __init__(
        self,
        urls: Sequence[str],
        policy: DeliveryPolicy | None = None,
        *,
        timeout_seconds: float = 10.0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._policy = policy or DeliveryPolicy()
        self._on_failure = on_failure  # called with the URL of every failed post
        self._outboxes = {url.rstrip("/"): Outbox(self._policy) for url in urls}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, on_failure: Callable[[str], None] | None = None
    ) -> AlertmanagerNotifier:
        """A notifier for ``NEZLAM_ALERTMANAGER_URLS`` with the configured re-send periods."""
        urls = settings.alertmanager_urls
        policy = DeliveryPolicy(
            resend_seconds=settings.alertmanager_resend_seconds,
            resolved_resend_seconds=settings.alertmanager_resolved_resend_seconds,
        )
        return cls(urls, policy, on_failure=on_failure)

    def queued(self) -> int:
        """Alerts waiting for delivery, over every Alertmanager."""
        return sum(len(outbox) for outbox in self._outboxes.values())

    @property
    def outboxes(self) -> Mapping[str, Outbox]:
        """The outbox of each Alertmanager URL (for metrics and tests)."""
        return self._outboxes

    def offer(self, event: AlertEvent, now: float) -> None:
        """Queue an alert event for every Alertmanager."""
        for outbox in self._outboxes.values():
            outbox.offer(event, now)

    def take_over(self, firing: Sequence[AlertEvent], now: float) -> None:
        """Make ``firing`` the firing alerts this worker sends, after a start or a rebalance:
        offer each (a restart emptied the outboxes), and stop re-sending those of points now
        owned by another worker, or they would fire again after their new owner resolved
        them."""
        for event in firing:
            self.offer(event, now)
        current = {event.fingerprint for event in firing}
        for outbox in self._outboxes.values():
            outbox.keep_firing_only(current)

    async def deliver_due(self, now: float) -> None:
        """Post what is due to every Alertmanager, concurrently; failures back off."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        await asyncio.gather(
            *(self._deliver(url, outbox, now) for url, outbox in self._outboxes.items())
        )

    async def run(self, clock: Callable[[], float] = time.time, tick_seconds: float = 1.0) -> None:
        """Deliver every ``tick_seconds`` until cancelled."""
        while True:
            await self.deliver_due(clock())
            await asyncio.sleep(tick_seconds)

    async def close(self) -> None:
        """Close the HTTP session (what is still queued is not delivered)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(self, url: str, outbox: Outbox, now: float) -> None:
        while (batch := outbox.due(now)) is not None:
            if not await self._post(url, batch):
                if self._on_failure is not None:
                    self._on_failure(url)
                delay = outbox.failed(now)
                log.warning(
                    "alertmanager %s: %d alerts not delivered (attempt %d), retrying in %.0f s",
                    url, len(outbox), outbox.failures, delay,
                )  # fmt: skip
                return
            outbox.delivered(batch, now)

    async def _post(self, url: str, batch: Batch) -> bool:
        assert self._session is not None
        try:
            async with self._session.post(url + API_PATH, json=batch.alerts) as response:
                if response.status < 300:
                    return True
                body = (await response.text())[:300]
                log.error("alertmanager %s: HTTP %d: %s", url, response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("alertmanager %s: %r", url, exc)
        return False
