"""What the worker's HTTP server exposes: ``/metrics`` and a health answer, on loopback by default.

Faust's web server serves, besides what the app registers, built-in views: ``/router/`` (which
worker owns which partition), ``/table/<name>/<key>/`` (any key's full state: each point's
state, visitor event ids included), statistics, a dependency graph and ``/performance/``. Each
has its own Faust setting (``faust.web.base.BLUEPRINT_FLAGS``); this module switches them all
off unless ``NEZLAM_WEB_FAUST_VIEWS`` asks for the table and router views. What remains is the
app's ``/metrics`` and Faust's plain index ``/``, which answers ``{"status": "OK"}`` once the
worker has recovered its tables and started its web server (the health answer).
"""

from __future__ import annotations

from typing import Any

from streams.config import Settings


def worker_web_kwargs(settings: Settings) -> dict[str, Any]:
    """The ``faust.App`` keyword arguments of the worker's HTTP server."""
    return {
        "web_port": settings.web_port,
        "web_bind": settings.web_bind,
        "web_tables_enabled": settings.web_faust_views,
        "web_router_enabled": settings.web_faust_views,
        # Sensor statistics and /assignment/ at "/", the service graph, Faust's own metrics:
        # internal state nobody outside needs; "/" then serves the plain health answer.
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "web_metrics_enabled": False,
    }
