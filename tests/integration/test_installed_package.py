"""A plain (non-editable) install of the package runs from any directory.

The wheel is built from this checkout and installed, without its dependencies, into a fresh
virtualenv that borrows the project environment's site-packages for them (a ``.pth`` line), so
the test takes seconds and proves what matters: the package finds its schemas, migrations and
default configuration through ``importlib.resources``, not through the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.config import Settings
from streams.kafka import topics
from tests import REPO_ROOT
from tests.integration.scratch_db import scratch_postgres
from tests.integration.tsdb_wasm import free_port
from tests.integration.worker_process import Worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a virtualenv holding the wheel of this checkout."""
    root = tmp_path_factory.mktemp("installed")
    wheels, venv = root / "wheels", root / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(REPO_ROOT)], check=True, cwd=root)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True).stdout.strip())
    # The project's dependencies, without its editable install (a .pth in a .pth-added
    # directory is not processed, so the checkout's finder stays out).
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next(wheels.glob("nezlam_streams-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", str(wheel)], check=True)
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    """A working directory outside the checkout."""
    yield tmp_path


def _nezlam(bin_dir: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(bin_dir / "nezlam"), *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _serves_metrics(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return b"nezlam_" in response.read()
    except OSError:
        return False


def test_the_installed_package_is_not_the_checkout(installed: Path, elsewhere: Path) -> None:
    where = subprocess.run(
        [installed / "python", "-c",
         "import streams, streams.resources as r; print(streams.__file__); "
         "print(r.migrations_dir()); print(r.default_alert_rules())"],
        cwd=elsewhere, check=True, capture_output=True, text=True).stdout.split()
    assert all(str(REPO_ROOT) not in path for path in where), where
    assert all("site-packages" in path for path in where), where


def test_db_migrate_from_any_directory(installed: Path, elsewhere: Path) -> None:
    with scratch_postgres() as dsn:
        out = _nezlam(installed, elsewhere, "db", "migrate", "--dsn", dsn)
        assert "applied" in out
        assert "pending" not in _nezlam(installed, elsewhere, "db", "status", "--dsn", dsn)


def test_simulate_from_any_directory(installed: Path, elsewhere: Path, kafka: str) -> None:
    _nezlam(installed, elsewhere, "simulate", "--points", "20", "--speed", "max",
            "--duration", "2m", "--bootstrap", kafka, "--summary-json", "summary.json")
    counts = json.loads((elsewhere / "summary.json").read_text())
    assert counts[topics.REGISTRY] == 20
    assert counts[topics.TELEMETRY] > 0


def test_worker_starts_from_any_directory(
    installed: Path, elsewhere: Path, kafka: str, admin_dsn: str, settings: Settings
) -> None:
    port = free_port()
    worker = Worker({"NEZLAM_APP_ID": f"{settings.app_id}-installed",
                     "NEZLAM_WEB_PORT": str(port), "NEZLAM_STATE_DIR": str(elsewhere / "state")},
                    elsewhere / "worker.log", command=[str(installed / "nezlam"), "worker"],
                    cwd=elsewhere)
    worker.start()
    try:
        wait_for("the installed worker to serve /metrics",
                 lambda: not worker.alive() or _serves_metrics(port), timeout=90)
        assert worker.alive(), "the installed worker exited"
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.log_tail()}") from None
    finally:
        worker.stop()
