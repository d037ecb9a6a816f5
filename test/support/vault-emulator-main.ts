// Standalone Vault emulator for benchmarks and demos:
//   node --import tsx test/support/vault-emulator-main.ts --port 8200 --token root
// Prints the address on stdout (one line) and serves on 127.0.0.1 until SIGTERM/SIGINT.
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
