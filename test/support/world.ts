// A fresh prefix in the test Vault with an ACME account and the BIND credentials stored, driven by
// the real CLI: the common start of the end-to-end renewal, hook and metrics tests.
import assert from 'node:assert/strict';
import { VaultClient } from '../../src/vault/client.js';
import { kvFor } from '../../src/vault/kv.js';
import { StateStore } from '../../src/store/store.js';
import { issue, type IssueRequest } from '../../src/core/issue.js';
import { mapLimit } from '../../src/util/map-limit.js';
import { silentLogger } from '../../src/ops/log.js';
import { runCli, type CliResult } from './cli.js';
import { setupCommands, type Stack } from './stack.js';
import type { TestVault } from './vault.js';

export interface World {
  prefix: string;
  env: Record<string, string>;
  store: StateStore;
  cli: (...args: string[]) => Promise<CliResult>;
}

export async function openWorld(
  stack: Stack,
  vault: TestVault,
  label: string,
  directoryUrl = stack.pebble.directoryUrl,
): Promise<World> {
  const prefix = `${vault.prefix}/${label}`;
  const env: Record<string, string> = {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: vault.token,
    CERTVAULT_VAULT_MOUNT: vault.mount,
    CERTVAULT_VAULT_PREFIX: prefix,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
    ...(vault.namespace ? { VAULT_NAMESPACE: vault.namespace } : {}),
  };
  const cli = (...args: string[]) => runCli(args, env);
  const client = new VaultClient({ addr: vault.addr, token: () => vault.token, namespace: vault.namespace });
  const store = new StateStore(
    kvFor(client, vault.mount, vault.mount === vault.kv1Mount ? 1 : 2),
    prefix,
    'test',
  );
  const setup = setupCommands(stack, { server: directoryUrl });
  const reg = await cli(...setup.register);
  assert.equal(reg.code, 0, reg.stderr);
  const dns = await cli(...setup.dnsSet);
  assert.equal(dns.code, 0, dns.stderr);
  return { prefix, env, store, cli };
}

/** Issues one certificate per name through the core API (faster than a CLI process each). */
export async function issueAll(
  w: World,
  stack: Stack,
  names: string[],
  extra: (name: string) => Partial<IssueRequest> = () => ({}),
): Promise<string[]> {
  await mapLimit(names, 4, (d) =>
    issue(
      w.store,
      {
        domains: [d],
        dns: 'bind',
        keyType: 'ecdsa-p256',
        reuseKey: false,
        force: false,
        propagationTimeoutMs: 30_000,
        timeoutMs: 60_000,
        ...extra(d),
      },
      { caCertPem: stack.pebble.caCertPem, logger: silentLogger, progress: () => undefined },
    ),
  );
  return names;
}
