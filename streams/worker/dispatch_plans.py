"""The current dispatch plans, followed from the database for the fuel alerts.

The planner (``nezlam dispatch-plan --every``) writes its plans to the database; a timer here
reads each oblast's newest one every ``NEZLAM_DISPATCH_PLAN_REFRESH_SECONDS`` into a
:class:`~streams.domain.dispatch_alerts.PlanBook` the alert rules look points up in. Every
worker reads the whole book (a few hundred rows): which worker owns a point does not matter,
and a restarted worker has it back at its first refresh. A failed read keeps the last book
until it is older than ``NEZLAM_DISPATCH_PLAN_MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import logging
import time

import psycopg

from streams.domain.dispatch_alerts import PlanBook
from streams.logistics.plan_feed import read_plan_book

log = logging.getLogger(__name__)


class PlanFollower:
    """Holds the newest :class:`PlanBook`; :meth:`refresh` reads it again."""

    def __init__(self, database_url: str, max_age_seconds: float) -> None:
        self._url = database_url
        self._max_age = max_age_seconds
        self._book = PlanBook()
        self._read_at = 0.0
        self.failures = 0

    def current(self) -> PlanBook:
        """The book last read, or an empty one when that read is too old to trust."""
        if time.time() - self._read_at > self._max_age:
            return PlanBook()
        return self._book

    async def refresh(self) -> None:
        """Read the current plans; a failure is logged and counted, the last book kept."""
        try:
            async with await psycopg.AsyncConnection.connect(self._url,
                                                             connect_timeout=10) as conn:
                self._book = await read_plan_book(conn, self._max_age)
            self._read_at = time.time()
        except psycopg.Error as exc:
            self.failures += 1
            log.warning("cannot read the dispatch plans (%s); keeping the last ones", exc)
