"""The local stack's Alertmanager receiver: every webhook notification appended to a file.

Alertmanager delivers each notification here (the receiver's name is the URL path), so a
newcomer can see the on-call path work without Telegram or e-mail: one JSON line per delivery in
``<state dir>/logs/alert-notifications.jsonl``, which ``nezlam run`` shows. Run as
``python -m streams.stack.webhook_log --port P --file F`` by ``nezlam stack up``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click


def serve(port: int, file: Path) -> None:
    """Serve until killed: POST appends one line per notification, GET answers readiness."""
    file.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            line = {"received_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "receiver": self.path.strip("/"), "notification": payload}
            with lock, file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the file is the log

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@click.command()
@click.option("--port", type=int, required=True)
@click.option("--file", "file", type=click.Path(path_type=Path), required=True)
def main(port: int, file: Path) -> None:
    """Append every Alertmanager webhook notification to FILE."""
    serve(port, file)


def read_notifications(file: Path, last: int = 5) -> tuple[int, list[dict[str, Any]]]:
    """How many notifications ``file`` holds and the ``last`` ones (newest last)."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0, []
    return len(lines), [json.loads(line) for line in lines[-last:] if line.strip()]


if __name__ == "__main__":
    main()
