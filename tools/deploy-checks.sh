#!/usr/bin/env bash
# The deployment checks alone (deploy/: Dockerfile, compose, Kubernetes, Prometheus rules,
# Alertmanager), with the real validators; no service needs to run. `make test` runs the same
# tests as part of the integration suite. Validators: promtool and amtool from
# `make system-deps`; hadolint, kubernetes-validate and check-jsonschema from `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/pytest ]; then
  echo "deploy-checks: no .venv with the dev tools; run make setup first" >&2
  exit 1
fi
exec .venv/bin/pytest -q -m integration tests/integration/test_deploy_configs.py "$@"
