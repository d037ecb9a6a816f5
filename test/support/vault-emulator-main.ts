// Standalone Vault emulator for benchmarks and demos:
//   node --import tsx test/support/vault-emulator-main.ts --port 8200 --token root
// Prints the address on stdout (one line) and serves on 127.0.0.1 until SIGTERM/SIGINT.
//
// --stats adds two routes outside Vault's /v1/ API on the same port, for benchmarks that run the
// emulator as its own process:
//   GET  /__emulator/stats  {"total", "serverMs", "cpuMs", "counters": {"GET secret/data": n, ...},
//                            "folders": {"GET secret/data/lets-encrypt/certificates": n, ...}}
//                           (`folders`: the request path without its last segment, LIST paths as is;
//                           `serverMs`: time spent answering them, summed; `cpuMs`: this process's
//                           CPU time, user + system)
//   POST /__emulator/reset  clears the request log and counters and restarts cpuMs (204)
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { VaultEmulator } from './vault-emulator.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8200' },
    token: { type: 'string' },
    kv1: { type: 'string', default: 'kv1' },
    namespace: { type: 'string', multiple: true },
    seed: { type: 'string' },
    flavor: { type: 'string', default: 'vault' },
    stats: { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`vault emulator: invalid --port ${values.port}`);
  process.exit(2);
}
if (values.flavor !== 'vault' && values.flavor !== 'openbao') {
  console.error('vault emulator: --flavor must be vault or openbao');
  process.exit(2);
}

const emu = await VaultEmulator.start({
  port,
  ...(values.token ? { rootToken: values.token } : {}),
  mounts: [
    { path: 'secret', version: 2 },
    ...(values.kv1 ? [{ path: values.kv1, version: 1 as const }] : []),
  ],
  namespaces: values.namespace ?? [],
  flavor: values.flavor,
  ...(values.seed ? { faultSeed: Number(values.seed) } : {}),
});

if (values.stats) {
  // The emulator owns its node:http server; put the two routes in front of its request handler.
  const server = (emu as unknown as { server?: Server }).server;
  const [handler] = server?.listeners('request') ?? [];
  if (!server || typeof handler !== 'function')
    throw new Error('vault emulator: cannot attach --stats routes');
  server.removeAllListeners('request');
  let cpuAtReset = process.cpuUsage();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/__emulator/'))
      return void (handler as (q: IncomingMessage, s: ServerResponse) => void)(req, res);
    req.resume();
    if (req.method === 'GET' && req.url === '/__emulator/stats') {
      const folders: Record<string, number> = {};
      let serverMs = 0;
      for (const r of emu.requests) {
        serverMs += r.ms;
        const path = r.path.replace(/\/+$/, '');
        const key = `${r.method} ${r.method === 'LIST' ? path : path.slice(0, Math.max(0, path.lastIndexOf('/')))}`;
        folders[key] = (folders[key] ?? 0) + 1;
      }
      const cpu = process.cpuUsage(cpuAtReset);
      const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
      const body = {
        total: emu.requests.length,
        serverMs: Math.round(serverMs),
        cpuMs,
        counters: Object.fromEntries(emu.counters),
        folders,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (req.method === 'POST' && req.url === '/__emulator/reset') {
      emu.resetLog();
      cpuAtReset = process.cpuUsage();
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
}

console.log(emu.addr);
console.error(`vault emulator: VAULT_ADDR=${emu.addr} VAULT_TOKEN=${emu.rootToken} (SIGINT/SIGTERM to stop)`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  emu.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
