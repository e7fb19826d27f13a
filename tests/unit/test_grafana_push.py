"""``nezlam grafana push`` against a stand-in for Grafana's HTTP API (no Grafana build is
reachable from this project's machines): the endpoints the push uses, with Grafana's status
codes, served in-process on a loopback port and reached through the real grafana-client."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from streams.cli.grafana_push import FOLDER_UID, resolve_datasources
from streams.cli.main import main
from streams.dashboards import datasources
from streams.dashboards.render import DASHBOARDS

TOKEN = "glsa_test_token"


class FakeGrafana:
    """Datasources, folders and dashboards by uid, as Grafana keeps them."""

    def __init__(self) -> None:
        self.datasources: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.authorizations: set[str | None] = set()

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Grafana's answer to one request."""
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/api/datasources/uid/([\w-]+)", self._get_datasource),
            ("POST", r"/api/datasources", self._create_datasource),
            ("PUT", r"/api/datasources/uid/([\w-]+)", self._update_datasource),
            ("GET", r"/api/folders/([\w-]+)", self._get_folder),
            ("POST", r"/api/folders", self._create_folder),
            ("GET", r"/api/dashboards/uid/([\w-]+)", self._get_dashboard),
            ("POST", r"/api/dashboards/db", self._save_dashboard),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return handler(body, *match.groups())
        return 404, {"message": "Not found"}

    def _get_datasource(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        return 200, self.datasources[uid]

    def _create_datasource(self, body: Any) -> tuple[int, Any]:
        if body["uid"] in self.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        self.datasources[body["uid"]] = body
        return 200, {"message": "Datasource added", "datasource": body}

    def _update_datasource(self, body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        self.datasources[uid] = body
        return 200, {"message": "Datasource updated", "datasource": body}

    def _get_folder(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.folders:
            return 404, {"message": "folder not found"}
        return 200, self.folders[uid]

    def _create_folder(self, body: Any) -> tuple[int, Any]:
        if body["uid"] in self.folders:
            return 409, {"message": "a folder with the same uid already exists"}
        self.folders[body["uid"]] = body
        return 200, body

    def _get_dashboard(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        return 200, self.dashboards[uid]

    def _save_dashboard(self, body: Any) -> tuple[int, Any]:
        dashboard = dict(body["dashboard"])
        uid = dashboard["uid"]
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        if uid in self.dashboards and not body.get("overwrite"):
            return 412, {"status": "version-mismatch"}
        previous = self.dashboards.get(uid, {}).get("dashboard", {})
        dashboard["id"] = previous.get("id", len(self.dashboards) + 1)
        dashboard["version"] = previous.get("version", 0) + 1
        self.dashboards[uid] = {"dashboard": dashboard, "meta": {"folderUid": body["folderUid"]}}
        return 200, {"uid": uid, "version": dashboard["version"], "status": "success"}


@pytest.fixture()
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    """The stand-in and its URL."""
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.authorizations.add(self.headers.get("Authorization"))
            status, answer = fake.handle(self.command, self.path.split("?")[0], body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *_args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _push(url: str, env: dict[str, str] | None = None) -> list[str]:
    result = CliRunner().invoke(main, ["grafana", "push", "--url", url, "--token", TOKEN],
                                env=env)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_first_push_creates_everything(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    lines = _push(url)
    dashboard_uids = {f"nezlam-{name}" for name in DASHBOARDS}
    assert set(fake.datasources) == {
        datasources.POSTGRES_UID, datasources.PROMETHEUS_UID, datasources.ALERTMANAGER_UID
    }
    assert set(fake.folders) == {FOLDER_UID}
    assert set(fake.dashboards) == dashboard_uids
    assert all(line.endswith(": created") for line in lines), lines
    assert fake.authorizations == {f"Bearer {TOKEN}"}


def test_second_push_changes_nothing_but_the_datasources(
    grafana: tuple[FakeGrafana, str],
) -> None:
    fake, url = grafana
    _push(url)
    first = json.dumps(fake.dashboards, sort_keys=True)
    lines = _push(url)
    assert json.dumps(fake.dashboards, sort_keys=True) == first
    assert sorted(lines) == sorted(
        [f"datasource {uid}: updated" for uid in fake.datasources]
        + [f"folder {FOLDER_UID}: unchanged"]
        + [f"dashboard {uid}: unchanged" for uid in fake.dashboards]
    )


def test_a_changed_dashboard_is_overwritten(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    _push(url)
    fake.dashboards["nezlam-fuel"]["dashboard"]["title"] = "edited in the UI"
    lines = _push(url)
    assert "dashboard nezlam-fuel: updated" in lines
    assert fake.dashboards["nezlam-fuel"]["dashboard"]["title"] == "Nezlam: fuel and logistics"
    assert fake.dashboards["nezlam-fuel"]["dashboard"]["version"] == 2


def test_datasources_point_where_the_environment_says(grafana: tuple[FakeGrafana, str]) -> None:
    fake, url = grafana
    _push(url, {"NEZLAM_DB_HOST": "db.internal:5432", "NEZLAM_READER_PASSWORD": "s3cret",
                "NEZLAM_DB_SSLMODE": "verify-full"})
    database = fake.datasources[datasources.POSTGRES_UID]
    assert database["url"] == "db.internal:5432"
    assert database["user"] == "nezlam_reader"
    assert database["jsonData"]["sslmode"] == "verify-full"
    assert database["jsonData"]["timescaledb"] is True
    assert database["secureJsonData"] == {"password": "s3cret"}
    # Provisioning-only keys stay out; an existing Grafana keeps its own default datasource.
    assert "editable" not in database and "isDefault" not in database


def test_a_missing_value_names_the_variable() -> None:
    with pytest.raises(Exception, match="NEZLAM_PROMETHEUS_URL"):
        resolve_datasources({"NEZLAM_DB_HOST": "h", "NEZLAM_DB_NAME": "n",
                             "NEZLAM_DB_SSLMODE": "disable", "NEZLAM_READER_PASSWORD": ""})
