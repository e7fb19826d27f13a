"""How often the stack refreshes what the database stores ahead of its readers
(``nezlam db refresh-rollups --every``): everything (the hourly rollups in plain PostgreSQL
mode, the gaps between reports, the activation openings), and in between the plain mode's
hour so far."""

from __future__ import annotations

from datetime import timedelta

REFRESH_EVERY = timedelta(minutes=15)
HOUR_SO_FAR_EVERY = timedelta(minutes=1)
