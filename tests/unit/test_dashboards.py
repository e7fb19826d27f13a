"""The committed Grafana files are what the code generates, and they are well formed: every
panel has a datasource Grafana will find and targets with refIds, SQL variables exist, and
every PromQL query parses and names metrics the workers export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams.dashboards import datasources
from streams.dashboards.render import DASHBOARDS, DASHBOARDS_DIR, generated_files
from streams.worker.metrics import PipelineMetrics

KNOWN_DATASOURCES = {
    datasources.POSTGRES_UID: datasources.POSTGRES_TYPE,
    datasources.PROMETHEUS_UID: datasources.PROMETHEUS_TYPE,
}
GRID_WIDTH = 24
# Grafana's own variables, usable in any query.
BUILTIN_VARIABLES = {"__interval", "__interval_ms", "__rate_interval", "__range"}


def _committed() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


COMMITTED = _committed()


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, board in COMMITTED.items() for panel in board["panels"]]


def _targets(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, target)
        for name, panel in _panels()
        for target in panel.get("targets", [])
        if target["datasource"]["type"] == kind
    ]


def test_committed_files_are_what_the_code_generates() -> None:
    stale = [
        str(path) for path, content in generated_files().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
    assert not stale, f"run `make dashboards` and commit the result: {stale}"


def test_no_dashboard_file_without_code() -> None:
    assert set(COMMITTED) == set(DASHBOARDS)


def test_uids_and_titles_are_unique_and_tagged() -> None:
    boards = list(COMMITTED.values())
    assert len({b["uid"] for b in boards}) == len({b["title"] for b in boards}) == len(boards)
    assert all(b["tags"] == ["nezlam"] for b in boards)
    assert all(b["schemaVersion"] >= 41 for b in boards)


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_panels_have_ids_datasources_targets_and_fit_the_grid(name: str) -> None:
    panels = COMMITTED[name]["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    for panel in panels:
        where = f"{name}/{panel['title']}"
        ds = panel["datasource"]
        assert KNOWN_DATASOURCES.get(ds["uid"]) == ds["type"], where
        targets = panel["targets"]
        assert targets, where
        ref_ids = [t["refId"] for t in targets]
        assert len(set(ref_ids)) == len(ref_ids), where
        assert all(t["datasource"] == ds for t in targets), where
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_WIDTH, where


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_panels_do_not_overlap(name: str) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in COMMITTED[name]["panels"]:
        g = panel["gridPos"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, f"{name}/{panel['title']} overlaps another panel"
        cells |= area


def test_sql_targets_are_raw_code_queries() -> None:
    targets = _targets(datasources.POSTGRES_TYPE)
    assert targets
    for name, target in targets:
        assert target["rawQuery"] is True and target["editorMode"] == "code", name
        assert target["format"] in ("table", "time_series"), name
        assert target["rawSql"].strip(), name


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_queries_use_only_the_dashboards_variables(name: str) -> None:
    board = COMMITTED[name]
    defined = {v["name"] for v in board.get("templating", {}).get("list", [])}
    texts = [t.get("rawSql") or t.get("expr") or "" for p in board["panels"]
             for t in p["targets"]]
    texts += [v.get("query", "") for v in board.get("templating", {}).get("list", [])]
    texts += [p["title"] for p in board["panels"]]
    used = {m for text in texts for m in re.findall(r"\$\{?(\w+)", text)}
    macros = {m for m in used if m.startswith("__")}
    assert used - macros <= defined, f"undefined variables in {name}"
    assert macros - BUILTIN_VARIABLES <= {
        "__timeFilter", "__timeGroupAlias", "__timeGroup", "__timeFrom", "__timeTo"
    }


def test_promql_names_exported_metrics() -> None:
    exported = _exported_series()
    targets = _targets(datasources.PROMETHEUS_TYPE)
    assert targets
    for name, target in targets:
        for metric in re.findall(r"\bnezlam_\w+", target["expr"]):
            assert metric in exported, (
                f"{name}: {metric} is not a metric of streams/worker/metrics.py")


def test_promql_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (make system-deps installs it)")
    rules = [
        {"record": f"nezlam:check:{i}", "expr": target["expr"].replace("$__rate_interval", "1m")}
        for i, (_name, target) in enumerate(_targets(datasources.PROMETHEUS_TYPE))
    ]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioned_datasources_match_the_dashboards() -> None:
    path = next(p for p in generated_files() if p.suffix == ".yaml")
    provisioned = yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    by_uid = {ds["uid"]: ds["type"] for ds in provisioned}
    assert KNOWN_DATASOURCES.items() <= by_uid.items()
    database = next(ds for ds in provisioned if ds["uid"] == datasources.POSTGRES_UID)
    assert database["user"] == "nezlam_reader"
    assert database["jsonData"]["timescaledb"] is True


def test_dashboard_provider_reads_the_mounted_dashboards() -> None:
    provider_file = DASHBOARDS_DIR.parent / "deploy/grafana/provisioning/dashboards/nezlam.yaml"
    (provider,) = yaml.safe_load(provider_file.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/dashboards"


def _exported_series() -> set[str]:
    """Every series name the workers' metrics can produce."""
    names: set[str] = set()
    for family in PipelineMetrics(CollectorRegistry()).registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names
