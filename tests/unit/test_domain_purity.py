"""The domain core stays pure: importing it loads no Kafka, stream, database or metrics code.

Runs in a fresh interpreter, because other tests in this process may have imported those
libraries already and would hide a leak. Every module of ``streams.domain`` is found with
``pkgutil``, so modules added later are checked too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
