"""A real Alertmanager (Debian's ``prometheus-alertmanager``) on loopback, and a webhook receiver.

The Alertmanager runs with the shipped inhibition rules and grouping, but one webhook receiver
(a small HTTP server inside the test) and second-scale timers, so a test sees notifications
within a second or two. Clustering is off: each instance stands alone, as in the HA model the
notifier posts to every instance.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.stack import alerting, process
from streams.stack.alerting import alertmanager_daemon
from streams.stack.process import StackError
from tests import REPO_ROOT
from tests.integration.tsdb_wasm import free_port

SHIPPED_CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def binary(*names: str) -> str:
    """The first of ``names`` on PATH; fails the test with an install hint when none is."""
    try:
        return alerting.binary(*names)
    except StackError as exc:
        pytest.fail(str(exc))


Notification = dict[str, Any]


class WebhookReceiver:
    """Collects Alertmanager webhook notifications (JSON, version 4), per URL path."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: dict[str, list[Notification]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver._received.setdefault(self.path, []).append(json.loads(body))
                    receiver._lock.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The URL an Alertmanager posts to for ``path``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def received(self, path: str) -> list[Notification]:
        """A copy of what arrived at ``path`` so far."""
        with self._lock:
            return list(self._received.get(path, []))

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_config(webhook_url: str) -> dict[str, Any]:
    """The shipped configuration's grouping and inhibition, one webhook, second-scale timers."""
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    return {
        "global": {"resolve_timeout": shipped["global"]["resolve_timeout"]},
        "route": {
            "receiver": "test-webhook",
            "group_by": shipped["route"]["group_by"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",  # a repeat would be a notification the test did not expect
        },
        "inhibit_rules": shipped["inhibit_rules"],
        "receivers": [
            {
                "name": "test-webhook",
                "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
            }
        ],
    }


class AlertmanagerProcess:
    """One Alertmanager on a free loopback port, with its own data directory; restartable.
    Started and stopped by the local stack's code (``streams.stack.alerting``)."""

    def __init__(self, directory: Path, webhook_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._daemon = alertmanager_daemon(test_config(webhook_url), directory, self.port)
        self.config_file = directory / "alertmanager.yml"

    def start(self) -> None:
        """Start it and wait until it is ready."""
        try:
            self._daemon.up(timeout=20)
        except StackError as exc:
            pytest.fail(f"Alertmanager did not start: {exc}")

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM: it snapshots its notification log on the way out)."""
        if (pid := self._daemon.pid()) is not None:
            process.stop(pid, name="alertmanager", timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        """The end of its log, for failure messages."""
        return process.tail(self._daemon.log_file, lines)
