"""The domain core stays pure: importing it loads no Kafka, stream, database or metrics code.

Runs in a fresh interpreter, because other tests in this process may have imported those
libraries already and would hide a leak. Every module of ``streams.domain`` is found with
``pkgutil``, so modules added later are checked too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

FORBIDDEN = ("faust", "aiokafka", "kafka", "psycopg", "psycopg_pool", "prometheus_client", "mode")

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import streams.domain as domain
    modules = ["streams.domain"]
    for info in pkgutil.walk_packages(domain.__path__, "streams.domain."):
        importlib.import_module(info.name)
        modules.append(info.name)
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps({"modules": modules, "loaded": loaded}))
    """
)


def test_importing_the_domain_loads_no_io_library() -> None:
    # -I: isolated mode, so PYTHONPATH or a user site cannot inject modules either.
    completed = subprocess.run(
        [sys.executable, "-I", "-c", PROBE], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert {"streams.domain.occupancy", "streams.domain.staleness"} <= set(report["modules"])
    leaked = sorted(set(FORBIDDEN) & set(report["loaded"]))
    assert not leaked, f"streams.domain imports {leaked}; keep I/O out of the domain core"


# Faust's one place in the worker, and the benchmark's no-op Faust app (Faust's own cost).
FAUST_MODULES = {"streams/worker/faust_app.py", "streams/bench/faust_ceiling.py"}


def test_faust_is_imported_in_one_place() -> None:
    root = Path(__file__).resolve().parents[2]
    importers = set()
    for path in (root / "streams").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name == "faust" or name.startswith("faust.") for name in names):
                importers.add(str(path.relative_to(root)))
    assert importers == FAUST_MODULES


def test_the_worker_module_builds_nothing_at_import() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import streams.worker.faust_app as m; "
         "print('app' in vars(m))"], capture_output=True, text=True, check=True,
    )
    assert completed.stdout.strip() == "False"
