#!/usr/bin/env bash
# Installs the Debian packages the local stack and the tests need, only those that are missing.
# Idempotent: a second run installs nothing and takes a moment.
set -euo pipefail

packages=(postgresql kcat prometheus prometheus-alertmanager)
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || packages+=(maven)
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> system packages: all present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "==> installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts its own PostgreSQL cluster and Prometheus services on install; the project runs
# its own instances on their own ports, so the packaged ones are not needed.
$SUDO systemctl disable --now postgresql prometheus prometheus-alertmanager >/dev/null 2>&1 || true
