"""The worker's typed, frozen settings, read from ``NEZLAM_*`` environment variables.

Every default targets the local stack that ``nezlam stack up`` starts; production overrides
them through the environment (see ``deploy/``). What only the local stack needs (versions,
ports and directories of the services it starts) is in :mod:`streams.stack.settings`. The
README's configuration table is generated from the fields' descriptions
(``nezlam config --markdown``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from streams.resources import default_alert_rules, default_depots

# A list read from one variable as comma-separated text (``a:1,b:2``), not as JSON.
CommaList = Annotated[list[str], NoDecode]

# Where the local stack's PostgreSQL listens; a DSN to another host is left as written.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def with_local_passfile(dsn: str, passfile: Path) -> str:
    """``dsn`` with ``passfile`` added when it points at a loopback address and carries neither a
    password nor a passfile: the local stack's generated passwords then need no typing. libpq
    ignores a missing file, and ``PGPASSWORD`` (production's Secrets) still comes first."""
    # Imported here: the topic names (streams.kafka.topics) import this module, and the simulator's
    # pure model imports those names without any database driver.
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    if params.get("host") not in LOOPBACK_HOSTS or {"password", "passfile"} & params.keys():
        return dsn
    return make_conninfo(dsn, passfile=str(passfile))


def read_kafka_passwords(path: Path) -> dict[str, str]:
    """User -> password from the local stack's Kafka password file (empty if there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = (line.partition(":") for line in text.splitlines() if not line.startswith("#"))
    return {user: password for user, sep, password in pairs if sep}


class TopicNamespace(BaseSettings):
    """The one setting the topic names depend on, readable without the rest (and without
    psycopg, which the DSN checks need): :mod:`streams.kafka.topics` reads it at import."""

    model_config = SettingsConfigDict(env_prefix="NEZLAM_", frozen=True, extra="ignore")

    topic_prefix: str = Field(
        "",
        description="Namespace put before every topic name (e.g. `test.`): tests and benchmarks "
        "use their own, so they never touch the topics of `make run`. Empty in production: "
        "the contract's topic names are what producers write to.",
    )


class Settings(TopicNamespace):
    """Pipeline configuration; each field is read from ``NEZLAM_<FIELD_NAME>``."""

    # --- Kafka -------------------------------------------------------------------------
    kafka_bootstrap: CommaList = Field(
        ["localhost:19092"], description="Kafka bootstrap servers, comma separated."
    )
    topic_partitions: int = Field(12, ge=1, description="Partitions for every topic created.")
    topic_replication: int = Field(1, ge=1, description="Replication factor for topics.")
    topic_retention_hours: int = Field(
        168, ge=1, description="Retention of non-compacted topics, in hours."
    )
    deadletter_topic: str = Field(
        "points.deadletter", description="Dead-letter topic name (the topic prefix goes before it)."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How clients talk to Kafka: PLAINTEXT (local stack), SSL, SASL_PLAINTEXT, "
        "SASL_SSL (production; docs/operations.md).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512",
        description="SASL mechanism when the protocol is SASL_*.",
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user (SASL_* protocols).")
    kafka_passfile: Path = Field(
        Path(".local") / "kafka-passwords",
        description="The local stack's generated Kafka SCRAM passwords (`user:password` lines, "
        "mode 0600, written by `nezlam stack up`); read for a SASL user without a password when "
        "every bootstrap server is a loopback address.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, validate_default=True,
        description="SASL password (SASL_* protocols); never logged.",
    )
    kafka_session_timeout_seconds: float = Field(
        10.0,
        ge=6.0,  # the broker's group.min.session.timeout.ms
        description="A worker silent this long is taken for dead and its partitions move to the "
        "others (heartbeats every fifth of it); raise it if a worker's batches block it longer.",
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="PEM bundle of the CAs that sign the brokers' certificates (SSL, SASL_SSL); "
        "unset: the system trust store.",
    )

    @field_validator("kafka_bootstrap", "alertmanager_urls", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("kafka_sasl_password", mode="after")
    @classmethod
    def _local_kafka_password(cls, password: SecretStr | None,
                              info: ValidationInfo) -> SecretStr | None:
        user = info.data.get("kafka_sasl_username")
        bootstrap: list[str] = info.data.get("kafka_bootstrap", [])
        passfile: Path | None = info.data.get("kafka_passfile")
        if password is not None or not user or passfile is None or not bootstrap:
            return password
        if any(entry.rpartition(":")[0] not in LOOPBACK_HOSTS for entry in bootstrap):
            return password
        local = read_kafka_passwords(passfile.expanduser().absolute()).get(user)
        return SecretStr(local) if local is not None else None

    @field_validator("deadletter_topic")
    @classmethod
    def _in_namespace(cls, name: str, info: ValidationInfo) -> str:
        prefix: str = info.data.get("topic_prefix", "")
        return name if name.startswith(prefix) else prefix + name

    # --- PostgreSQL / TimescaleDB --------------------------------------------------------
    pg_passfile: Path = Field(
        Path(".local") / "pgpass",
        description="libpq password file of the local stack's roles (written by `nezlam stack "
        "up`, mode 0600); added as `passfile` to loopback DSNs without a password.",
    )
    database_url: str = Field(
        "postgresql://nezlam_writer@127.0.0.1:55432/nezlam",
        description="DSN the pipeline writes with (role nezlam_writer).",
    )
    admin_database_url: str = Field(
        "postgresql://nezlam_owner@127.0.0.1:55432/nezlam",
        description="DSN migrations run with (role nezlam_owner: owns the schema; the worker "
        "never uses it).",
    )
    timescaledb: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Use TimescaleDB features: auto (when the extension is available), on, off.",
    )

    @field_validator("pg_passfile", "kafka_passfile", "state_dir", mode="after")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        # Relative defaults mean the current directory at start, wherever the process moves to.
        return path.expanduser().absolute()

    @field_validator("database_url", "admin_database_url")
    @classmethod
    def _local_passfile(cls, dsn: str, info: ValidationInfo) -> str:
        return with_local_passfile(dsn, info.data["pg_passfile"])

    # --- Worker ----------------------------------------------------------------------------
    app_id: str = Field("nezlam", description="Faust application id (consumer group).")
    web_port: int = Field(6066, description="Worker HTTP port (health and /metrics).")
    # --- Worker HTTP exposure (streams/worker/web.py; docs/operations.md, "Security") ------------
    web_bind: str = Field(
        "127.0.0.1",
        description="Address the worker's HTTP server listens on: loopback by default; 0.0.0.0 "
        "where Prometheus scrapes from elsewhere (the container image and Kubernetes set it).",
    )
    web_faust_views: bool = Field(
        False,
        description="Also serve Faust's /table/ (every point's state) and /router/ (partition "
        "assignment) views: for debugging only, never on a reachable address.",
    )
    # --- Worker performance (issue 12; docs/operations.md, "Sizing") ---------------------------
    event_loop: Literal["aio", "uvloop"] = Field(
        "uvloop",
        description="Event loop of the worker (Faust's --loop): uvloop spends less CPU per event "
        "than aio, asyncio's default loop (measured by `make bench`).",
    )
    # --- end worker performance ----------------------------------------------------------------
    sink_batch_size: int = Field(10_000, ge=1, description="Rows per database batch.")
    sink_batch_seconds: float = Field(
        0.25, gt=0,
        description="Longest wait to fill a batch: at the live rate most of the produce-to-row "
        "latency (a backlog fills batches at once).",
    )
    max_future_skew_seconds: int = Field(
        300, ge=0, description="Reject messages whose ts is further than this in the future."
    )
    max_event_age_seconds: float = Field(
        7 * 24 * 3600.0,
        gt=0,
        description="Reject messages whose ts is older than this (dead letter old_timestamp); "
        "keep it at the input topics' retention.",
    )
    max_message_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Reject input messages larger than this (dead letter too_large); a report "
        "is a few hundred bytes.",
    )

    # --- Occupancy and staleness (docs/computations.md) ---------------------------------------
    occupancy_max_dwell_seconds: float = Field(
        4 * 3600.0, gt=0, description="An arrival without a departure stops counting after this."
    )
    event_lateness_seconds: float = Field(
        600.0,
        ge=0,
        description="Allowed lateness: a message older than its task's stream time by more "
        "than this is stored as a row and counted, but changes no state and no alert.",
    )
    silence_after_seconds: dict[str, float] = Field(
        {"permanent": 300.0, "mobile": 600.0, "standby": 900.0},
        description="Per point kind, how long without a report makes a point silent "
        '(JSON, e.g. {"permanent": 300, "mobile": 600, "standby": 900}).',
    )
    activation_deadline_seconds: float = Field(
        2 * 3600.0, gt=0, description="A standby point must report open this long after activation."
    )
    stall_reseek_seconds: float = Field(
        30.0,
        gt=0,
        description="A partition whose commit stays behind what was processed, with no progress, "
        "for this long is read again from its committed offset (a lost delivery, not lost data).",
    )
    max_task_idle_seconds: float = Field(
        0.2,
        ge=0,
        description="How long a message waits in its stream task for another input partition "
        "that is read to its end, in case a message with an earlier ts is being produced to it "
        "(Kafka Streams' max.task.idle.ms); an input Kafka holds more of is always waited for. "
        "Delays computations and alerts, not the input rows.",
    )

    clock: Literal["wall", "event"] = Field(
        "wall",
        description=(
            "What moves a task's time when every input is caught up: wall (the clock; production) "
            "or event (nothing: only messages do; simulations at --speed > 1 and tests)."
        ),
    )
    liveness_interval_seconds: float = Field(
        5.0, gt=0, description="How often each worker sets its gauges of points by state and "
        "of its stream tasks (the tasks themselves run every NEZLAM_SINK_BATCH_SECONDS)."
    )

    # --- Alerting (docs/oncall.md) --------------------------------------------------------------
    alert_rules_file: Path = Field(
        default_factory=default_alert_rules,
        description="The alert rules file (YAML): severities, pending and clearing periods, "
        "thresholds per point kind and oblast; validated at start.",
        json_schema_extra={"doc_default": "the shipped `config/alert_rules.yaml`"},
    )
    alertmanager_urls: CommaList = Field(
        [],
        description="Alertmanager base URLs, comma separated; every one gets every alert "
        "(Alertmanager's HA model). Empty: alerts are not delivered.",
    )
    alertmanager_resend_seconds: float = Field(
        60.0,
        gt=0,
        description="Firing alerts are re-sent this often; keep it well below Alertmanager's "
        "resolve_timeout (5 min).",
    )
    alertmanager_resolved_resend_seconds: float = Field(
        300.0,
        ge=0,
        description="A resolution is re-sent for this long after it was first delivered.",
    )

    # --- Dispatch plan (docs/oncall.md) ------------------------------------------------------
    depots_file: Path = Field(
        default_factory=default_depots,
        description="The fuel depots and trucks per oblast (YAML) the dispatch plan routes; "
        "validated when read.",
        json_schema_extra={"doc_default": "the shipped `config/depots.yaml`"},
    )
    dispatch_time_limit_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest the solver works on one oblast's dispatch plan; the best plan "
        "found by then is kept.",
    )
    dispatch_safety_margin_hours: float = Field(
        1.0,
        ge=0,
        description="A truck must arrive this long before a generator runs dry.",
    )
    dispatch_horizon_hours: float = Field(
        24.0,
        gt=0,
        description="The dispatch plan covers the generators that run dry within this long.",
    )
    dispatch_standby_weight: float = Field(
        3.0,
        ge=1,
        le=10,
        description="How many permanent points a standby point (opened for an emergency) "
        "counts for when the dispatch plan cannot reach every point.",
    )

    dispatch_plan_refresh_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the worker reads each oblast's newest dispatch plan, whose "
        "trucks its fuel alerts name (and whose unreached points raise fuel_unreachable).",
    )
    dispatch_plan_max_age_seconds: float = Field(
        2700.0,
        gt=0,
        description="A dispatch plan older than this is not current (its planner has "
        "stopped): fuel alerts then name no truck rather than a stale one.",
    )

    # --- Local files -------------------------------------------------------------------------
    state_dir: Path = Field(
        Path(".local"),
        description="The worker's state (RocksDB), logs, and the local stack's data "
        "(git-ignored); relative to the directory the command starts in.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
