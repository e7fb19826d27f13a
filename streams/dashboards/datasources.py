"""The datasources every dashboard refers to, by fixed uid.

The same uids are given to the datasources in ``deploy/grafana/provisioning/datasources/`` and
by ``nezlam grafana push``, so a dashboard works unchanged in a provisioned Grafana and in one
it was pushed to.
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import DataSourceRef

POSTGRES_TYPE = "grafana-postgresql-datasource"
POSTGRES_UID = "nezlam-postgres"
PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "nezlam-prometheus"


def postgres() -> DataSourceRef:
    """The pipeline's database, read as ``nezlam_reader``."""
    return DataSourceRef(type_val=POSTGRES_TYPE, uid=POSTGRES_UID)


def prometheus() -> DataSourceRef:
    """The Prometheus that scrapes the workers' ``/metrics``."""
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)
