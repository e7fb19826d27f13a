"""Session fixture ``tsdb_wasm_dsn``: TimescaleDB (PGlite compiled to WASM) on a free loopback
port, for the migrations' TimescaleDB mode (no native TimescaleDB build is reachable here).

Register it from ``tests/integration/conftest.py`` with
``from tests.integration.tsdb_wasm import tsdb_wasm_dsn  # noqa: F401``.

The server is single-user and serves ONE connection at a time (others queue until it
closes), in one database whatever ``dbname`` says; it supports plain ``execute()`` only:
``executemany()`` (pipeline mode) and ``COPY`` crash it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests import REPO_ROOT

TOOL_DIR = REPO_ROOT / "tools" / "tsdb-wasm"
# First use runs `npm ci` (a few seconds with a warm npm cache) before the ~2 s WASM start.
START_TIMEOUT_S = 180.0


@pytest.fixture(scope="session")
def tsdb_wasm_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the WASM TimescaleDB server, yield its DSN, stop it at the end of the session."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is needed for the TimescaleDB-in-WASM tests (apt-get install {tool})"
            )
    port = free_port()
    log = tmp_path_factory.mktemp("tsdb-wasm") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(TOOL_DIR / "start.sh"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        dsn = make_conninfo(
            host="127.0.0.1",
            port=port,
            user="postgres",
            # Ignored by the server, but libpq refuses to connect without one.
            password="x",
            dbname="postgres",
            # The server answers the SSL request with an authentication message.
            sslmode="disable",
        )
        _wait_ready(server, log, dsn)
        yield dsn
    finally:
        _stop(server)


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(server: subprocess.Popen[bytes], log: Path, dsn: str) -> None:
    """Wait for the server's "ready" line, then for a real query to succeed."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while "ready" not in log.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"TimescaleDB-in-WASM server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    with psycopg.connect(dsn, connect_timeout=30) as conn:
        conn.execute("SELECT 1")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
