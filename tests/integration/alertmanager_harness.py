"""A real Alertmanager (Debian's ``prometheus-alertmanager``) on loopback, and a webhook receiver.

The Alertmanager runs with the shipped inhibition rules and grouping, but one webhook receiver
(a small HTTP server inside the test) and second-scale timers, so a test sees notifications
within a second or two. Clustering is off: each instance stands alone, as in the HA model the
notifier posts to every instance.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import REPO_ROOT
from tests.integration.tsdb_wasm import free_port

SHIPPED_CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
INSTALL_HINT = "install it with `make system-deps` (apt-get install prometheus-alertmanager)"


def binary(*names: str) -> str:
    """The first of ``names`` on PATH; fails the test with an install hint when none is."""
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    pytest.fail(f"{' / '.join(names)} not found; {INSTALL_HINT}")


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
    """One Alertmanager on a free loopback port, with its own data directory; restartable."""

    def __init__(self, directory: Path, webhook_url: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.config_file = directory / "alertmanager.yml"
        self.config_file.write_text(
            yaml.safe_dump(test_config(webhook_url), allow_unicode=True), encoding="utf-8"
        )
        self._data = directory / "data"
        self._log = directory / "alertmanager.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it is ready."""
        command = [
            binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={self.config_file}",
            f"--storage.path={self._data}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # standalone: no gossip port
            "--log.level=debug",
        ]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                pytest.fail(f"Alertmanager exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"Alertmanager not ready within 20 s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM: it snapshots its notification log on the way out)."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of its log, for failure messages."""
        text = self._log.read_text(encoding="utf-8", errors="replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
