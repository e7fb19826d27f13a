"""How often the stack refreshes what the database stores ahead of its readers: the hourly
rollups (plain PostgreSQL mode), the gaps between reports and the activation openings
(``nezlam db refresh-rollups --every``)."""

from __future__ import annotations

from datetime import timedelta

REFRESH_EVERY = timedelta(minutes=15)
