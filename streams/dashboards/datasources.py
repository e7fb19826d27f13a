"""The datasources the dashboards read, by fixed uid, and their definitions.

:func:`definitions` is the one source of both ``deploy/grafana/provisioning/datasources/
nezlam.yaml`` (written by ``make dashboards``) and what ``nezlam grafana push`` creates, so a
dashboard works unchanged in a provisioned Grafana and in one it was pushed to. Where the
database, Prometheus and Alertmanager are is left to environment variables (``${NAME}``, which
Grafana's provisioning and the push both substitute).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.models.dashboard import DataSourceRef

POSTGRES_TYPE = "grafana-postgresql-datasource"
POSTGRES_UID = "nezlam-postgres"
PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "nezlam-prometheus"
ALERTMANAGER_TYPE = "alertmanager"
ALERTMANAGER_UID = "nezlam-alertmanager"

# The environment variables the definitions read, with what each one is.
ENVIRONMENT = {
    "NEZLAM_DB_HOST": "host:port of the database, as Grafana reaches it",
    "NEZLAM_DB_NAME": "database name",
    "NEZLAM_DB_SSLMODE": "disable, require, verify-ca or verify-full",
    "NEZLAM_READER_PASSWORD": "password of the role nezlam_reader",
    "NEZLAM_PROMETHEUS_URL": "URL of the Prometheus that scrapes the workers",
    "NEZLAM_ALERTMANAGER_URL": "URL of the Alertmanager the alerts go to",
}
# Prometheus scrapes the workers every 15 s (deploy/prometheus/prometheus.yml); Grafana's
# $__rate_interval is at least four of these.
SCRAPE_INTERVAL = "15s"


def postgres() -> DataSourceRef:
    """The pipeline's database, read as ``nezlam_reader``."""
    return DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)


def prometheus() -> DataSourceRef:
    """The Prometheus that scrapes the workers' ``/metrics``."""
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def definitions() -> list[dict[str, Any]]:
    """The three datasources in Grafana's provisioning format, with ``${NAME}`` placeholders."""
    return [
        {
            "name": "Nezlam PostgreSQL",
            "uid": POSTGRES_UID,
            "type": POSTGRES_TYPE,
            "access": "proxy",
            "url": "${NEZLAM_DB_HOST}",
            # Read-only: the role can SELECT and nothing else (docs/database.md).
            "user": "nezlam_reader",
            "isDefault": True,
            "editable": False,
            "jsonData": {
                "database": "${NEZLAM_DB_NAME}",
                "sslmode": "${NEZLAM_DB_SSLMODE}",
                "postgresVersion": 1500,
                # $__timeGroup becomes time_bucket(); plain PostgreSQL has the migrations' shim.
                "timescaledb": True,
                "maxOpenConns": 10,
                "maxIdleConns": 10,
                "connMaxLifetime": 14400,
                "timeInterval": "1m",
            },
            "secureJsonData": {"password": "${NEZLAM_READER_PASSWORD}"},
        },
        {
            "name": "Nezlam Prometheus",
            "uid": PROMETHEUS_UID,
            "type": PROMETHEUS_TYPE,
            "access": "proxy",
            "url": "${NEZLAM_PROMETHEUS_URL}",
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": SCRAPE_INTERVAL},
        },
        {
            "name": "Nezlam Alertmanager",
            "uid": ALERTMANAGER_UID,
            "type": ALERTMANAGER_TYPE,
            "access": "proxy",
            "url": "${NEZLAM_ALERTMANAGER_URL}",
            "editable": False,
            # Prometheus' Alertmanager: Grafana shows and silences its alerts, sends none.
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        },
    ]
