"""``nezlam grafana push``: create or update the Nezlam datasources and dashboards in an
existing Grafana through its HTTP API (grafana-client).

Idempotent: datasources and dashboards are addressed by their fixed uids, so a second push
updates what the first created (a dashboard that has not changed is left alone). What the
datasources point at comes from the same ``NEZLAM_*`` variables the provisioned Grafana reads
(``streams/dashboards/datasources.py``); unset ones fall back to the local stack.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError
from psycopg.conninfo import conninfo_to_dict

from streams.config import Settings, get_settings
from streams.dashboards import datasources
from streams.dashboards.render import build_all, dashboard_json
from streams.stack.pgpass import READER, read_passwords

FOLDER_UID = "nezlam"
FOLDER_TITLE = "Nezlam"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# Provisioning-only keys; the HTTP API has no such fields.
_PROVISIONING_ONLY = ("editable",)
# Keys Grafana adds to a stored dashboard; they do not make it differ from ours.
_STORED_ONLY = ("id", "version")
# A folder or datasource that does not exist yet.
_NOT_FOUND = 404


class Outcome(enum.StrEnum):
    """What a push did to one object."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Pushed:
    """One object the push handled."""

    kind: str  # datasource, folder, dashboard
    uid: str
    outcome: Outcome


def local_defaults(settings: Settings) -> dict[str, str]:
    """Where the datasources point when no ``NEZLAM_*`` variable says: the local stack."""
    database = conninfo_to_dict(settings.database_url)
    alertmanagers = settings.alertmanager_urls
    return {
        "NEZLAM_DB_HOST": f"{database.get('host', '127.0.0.1')}:{database.get('port', 5432)}",
        "NEZLAM_DB_NAME": str(database.get("dbname", "nezlam")),
        "NEZLAM_DB_SSLMODE": "disable",
        # The local stack's generated password (`nezlam stack up`); production sets the variable.
        "NEZLAM_READER_PASSWORD": read_passwords(settings.pg_passfile).get(READER, ""),
        "NEZLAM_PROMETHEUS_URL": "http://127.0.0.1:9090",
        "NEZLAM_ALERTMANAGER_URL": alertmanagers[0] if alertmanagers else "http://127.0.0.1:9093",
    }


def resolve_datasources(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The datasource definitions with every ``${NAME}`` replaced from ``values``, in the
    HTTP API's shape; a name without a value is an error."""

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda match: _value(values, match[1]), node)
        return node

    resolved = []
    for definition in datasources.definitions():
        body = {k: v for k, v in definition.items() if k not in _PROVISIONING_ONLY}
        # An existing Grafana keeps its own default datasource: the dashboards name theirs.
        body.pop("isDefault", None)
        resolved.append(fill(body))
    return resolved


def _value(values: Mapping[str, str], name: str) -> str:
    if name not in values:
        raise click.UsageError(f"set {name} ({datasources.ENVIRONMENT.get(name, name)})")
    return values[name]


def push(api: GrafanaApi, datasource_bodies: list[dict[str, Any]]) -> list[Pushed]:
    """Create or update the datasources, the Nezlam folder and every dashboard."""
    done = [_push_datasource(api, body) for body in datasource_bodies]
    done.append(_ensure_folder(api))
    for dashboard in build_all().values():
        done.append(_push_dashboard(api, json.loads(dashboard_json(dashboard))))
    return done


def _push_datasource(api: GrafanaApi, body: dict[str, Any]) -> Pushed:
    uid = str(body["uid"])
    if _find(lambda: api.datasource.get_datasource_by_uid(uid)) is None:
        api.datasource.create_datasource(body)
        return Pushed("datasource", uid, Outcome.CREATED)
    # Always written: the password cannot be read back to compare.
    api.datasource.update_datasource_by_uid(uid, body)
    return Pushed("datasource", uid, Outcome.UPDATED)


def _ensure_folder(api: GrafanaApi) -> Pushed:
    if _find(lambda: api.folder.get_folder(FOLDER_UID)) is not None:
        return Pushed("folder", FOLDER_UID, Outcome.UNCHANGED)
    api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
    return Pushed("folder", FOLDER_UID, Outcome.CREATED)


def _push_dashboard(api: GrafanaApi, dashboard: dict[str, Any]) -> Pushed:
    uid = str(dashboard["uid"])
    stored = _find(lambda: api.dashboard.get_dashboard(uid))
    if stored is not None:
        current = {k: v for k, v in stored["dashboard"].items() if k not in _STORED_ONLY}
        if current == dashboard and stored.get("meta", {}).get("folderUid") == FOLDER_UID:
            return Pushed("dashboard", uid, Outcome.UNCHANGED)
    api.dashboard.update_dashboard({
        "dashboard": dashboard,
        "folderUid": FOLDER_UID,
        "overwrite": True,
        "message": "nezlam grafana push",
    })
    return Pushed("dashboard", uid, Outcome.CREATED if stored is None else Outcome.UPDATED)


def _find(fetch: Callable[[], Any]) -> Any:
    """What ``fetch`` returns, or None when Grafana answers 404 (other errors propagate)."""
    try:
        return fetch()
    except GrafanaClientError as exc:
        if exc.status_code == _NOT_FOUND:
            return None
        raise


@click.group()
def grafana() -> None:
    """Grafana: push the dashboards and datasources to an existing Grafana."""


@grafana.command("push")
@click.option("--url", required=True, envvar="NEZLAM_GRAFANA_URL",
              help="Grafana's URL, e.g. https://grafana.example.org (user:password@ also works).")
@click.option("--token", envvar="NEZLAM_GRAFANA_TOKEN",
              help="A service account token with the Editor role (or env NEZLAM_GRAFANA_TOKEN).")
def push_command(url: str, token: str | None) -> None:
    """Create or update the Nezlam datasources, folder and dashboards (idempotent).

    The datasources point where the NEZLAM_DB_HOST, NEZLAM_DB_NAME, NEZLAM_DB_SSLMODE,
    NEZLAM_READER_PASSWORD, NEZLAM_PROMETHEUS_URL and NEZLAM_ALERTMANAGER_URL variables say,
    as seen from Grafana; unset ones default to the local stack.
    """
    values = {**local_defaults(get_settings()), **_environment()}
    api = GrafanaApi.from_url(url, credential=token)
    for pushed in push(api, resolve_datasources(values)):
        click.echo(f"{pushed.kind} {pushed.uid}: {pushed.outcome}")


def _environment() -> dict[str, str]:
    return {name: os.environ[name] for name in datasources.ENVIRONMENT if name in os.environ}
