"""Files the package ships, found with ``importlib.resources`` wherever it is installed.

The files live at the top of the repository (``schemas/``, ``config/``, ``deploy/``) and are
installed as ``streams.schemas``, ``streams.shipped_config`` and ``streams.deploy`` (``setup.py``
maps them), so an editable install and a plain ``pip install .`` find the same files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _shipped(package: str, *parts: str) -> Path:
    """A file or directory of ``package`` as a filesystem path: the package is installed as
    files (a wheel unpacked by pip, or an editable install), never imported from a zip."""
    resource = files(package)
    for part in parts:
        resource = resource / part
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package}/{'/'.join(parts)} is not on the filesystem ({resource!r})")
    return resource


def schema_file(name: str) -> Path:
    """A JSON Schema of the message contract (``schemas/<name>``)."""
    return _shipped("streams.schemas", name)


def migrations_dir() -> Path:
    """The SQL migrations (``schemas/migrations/``)."""
    return _shipped("streams.schemas", "migrations")


def default_alert_rules() -> Path:
    """The shipped alert rules (``config/alert_rules.yaml``)."""
    return _shipped("streams.shipped_config", "alert_rules.yaml")


def default_depots() -> Path:
    """The shipped fuel depots and trucks (``config/depots.yaml``)."""
    return _shipped("streams.shipped_config", "depots.yaml")


def kafka_acls() -> Path:
    """The Kafka principals and their ACLs (``config/kafka_acls.yaml``)."""
    return _shipped("streams.shipped_config", "kafka_acls.yaml")


def deploy_file(*parts: str) -> Path:
    """A shipped deployment file, e.g. ``deploy_file("prometheus", "rules.yml")``."""
    return _shipped("streams.deploy", *parts)
