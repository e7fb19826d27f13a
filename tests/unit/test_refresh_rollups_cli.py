"""``nezlam db refresh-rollups --every``: a database it cannot reach ends a single run with an
error, but not the repeating loop ``make run`` starts, which retries until stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from streams.cli.db import refresh_rollups

# Nothing listens on port 1 of the loopback: every connection is refused at once.
UNREACHABLE = "host=127.0.0.1 port=1 dbname=nezlam user=nezlam_writer connect_timeout=2"


def test_a_single_refresh_fails_with_the_error() -> None:
    result = CliRunner().invoke(refresh_rollups, ["--dsn", UNREACHABLE])
    assert result.exit_code == 1
    assert "refused" in result.output


def test_the_repeating_refresh_retries_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "db", "refresh-rollups", "--dsn", UNREACHABLE,
         "--every", "60", "--hour-so-far-every", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    failures = 0
    deadline = time.monotonic() + 30
    while failures < 3 and time.monotonic() < deadline:
        line = process.stderr.readline()
        failures += line.startswith("refresh failed, retrying")
    assert failures == 3, "three failed runs, and the loop still going"
    assert process.poll() is None
    # Stopped as `make run` stops its children. (Not SIGINT: a shell's background job, as
    # under CI, starts with SIGINT ignored.)
    process.terminate()
    assert process.wait(timeout=10) == -signal.SIGTERM
