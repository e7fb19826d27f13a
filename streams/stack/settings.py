"""Settings of the local stack alone: what `nezlam stack`, `make run` and `make test` start.

The worker never reads these; :class:`StackSettings` extends the worker's
:class:`~streams.config.Settings` because the stack also needs the worker's (bootstrap servers,
DSNs, the worker's metrics port to scrape). Each field is read from ``NEZLAM_<FIELD_NAME>``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from streams.config import Settings


class StackSettings(Settings):
    """The worker's settings plus the versions, ports and directories of the local services."""

    kafka_version: str = Field("4.3.1", description="Apache Kafka version for the local stack.")
    kafka_controller_port: int = Field(19093, description="KRaft controller port (local stack).")
    kafka_brokers: int = Field(
        1,
        ge=1,
        le=9,
        description="Brokers of the local Kafka (`nezlam stack up --brokers 3`): 1 is one node "
        "acting as broker and controller; more is one controller and that many brokers, on the "
        "`NEZLAM_KAFKA_BOOTSTRAP` ports (or the first port plus 100, 200) with topics "
        "replicated 3 times, `min.insync.replicas=2`. With `NEZLAM_KAFKA_SECURITY_PROTOCOL="
        "SASL_PLAINTEXT` it enforces SCRAM logins and ACLs (docs/operations.md).",
    )
    pg_port: int = Field(55432, description="Port of the local PostgreSQL cluster.")
    prometheus_port: int = Field(
        19090,
        description="Port of the local Prometheus (web UI and API; scrapes the worker, loads "
        "`deploy/prometheus/rules.yml`).",
    )
    alertmanager_port: int = Field(
        19094, description="Port of the local Alertmanager (web UI and API)."
    )
    alert_webhook_port: int = Field(
        19095,
        description="Port of the local webhook receiver that appends every notification the "
        "local Alertmanager delivers to `<state dir>/logs/alert-notifications.jsonl`.",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "nezlam",
        description="Downloaded Kafka jars and npm packages.",
        json_schema_extra={"doc_default": "~/.cache/nezlam"},
    )

    @model_validator(mode="before")
    @classmethod
    def _replicate_on_a_cluster(cls, data: Any) -> Any:
        # A cluster's topics are replicated unless NEZLAM_TOPIC_REPLICATION says otherwise.
        if isinstance(data, dict) and "topic_replication" not in data:
            brokers = int(data.get("kafka_brokers", 1))
            if brokers > 1:
                data["topic_replication"] = min(3, brokers)
        return data

    @field_validator("cache_dir", mode="after")
    @classmethod
    def _absolute_cache(cls, path: Path) -> Path:
        return path.expanduser().absolute()

    @property
    def prometheus_url(self) -> str:
        """Base URL of the local Prometheus."""
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        """Base URL of the local Alertmanager."""
        return f"http://127.0.0.1:{self.alertmanager_port}"


@lru_cache(maxsize=1)
def get_stack_settings() -> StackSettings:
    """The process-wide local-stack settings, read once from the environment."""
    return StackSettings()
