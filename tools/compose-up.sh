#!/usr/bin/env bash
# `make up`: the production-like stack of deploy/compose.yaml on this machine's Docker Engine.
# It needs a reachable Docker Engine with the Compose v2 plugin and a filled-in deploy/.env;
# when one of them is missing it says which and how to get it, and starts nothing.
# Extra arguments go to `docker compose up` (e.g. `--scale worker=3`).
set -euo pipefail
cd "$(dirname "$0")/.."

compose_file=deploy/compose.yaml
env_file=deploy/.env

fail() {
  echo "make up: $*" >&2
  exit 1
}

command -v docker >/dev/null 2>&1 \
  || fail "no docker command on this machine. Install Docker Engine with the Compose plugin
  (https://docs.docker.com/engine/install/), or run the pipeline without containers: make run"

docker info >/dev/null 2>&1 \
  || fail "no Docker Engine is reachable (docker info failed${DOCKER_HOST:+ for DOCKER_HOST=$DOCKER_HOST}).
  Start the engine (systemctl start docker) or point DOCKER_HOST at one; this command starts
  nothing without it. Without containers: make run"

docker compose version >/dev/null 2>&1 \
  || fail "the Docker Compose v2 plugin is missing (docker compose version failed).
  Install the docker-compose-plugin package."

[ -f "$env_file" ] \
  || fail "$env_file is missing. Create it from the example and set every secret in it:
  cp deploy/.env.example $env_file && \${EDITOR:-vi} $env_file"

if grep -Eq '^[A-Z_]+=change-me' "$env_file"; then
  fail "$env_file still has placeholder values: $(grep -Eo '^[A-Z_]+=change-me' "$env_file" | cut -d= -f1 | paste -sd' ')"
fi

echo "==> docker compose -f $compose_file up -d --build --wait $*"
docker compose -f "$compose_file" --env-file "$env_file" up -d --build --wait "$@"
docker compose -f "$compose_file" --env-file "$env_file" ps
echo "Grafana http://localhost:3000  Prometheus http://localhost:9090  Alertmanager http://localhost:9093"
