import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { configError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import { resolveAuthPlan, VaultAuth, type AuthInput } from '../vault/auth.js';
import { VaultClient } from '../vault/client.js';
import {
  resolveVaultSettings,
  vaultAddress,
  type VaultSettings,
  type VaultSettingsInput,
} from '../vault/config.js';
import { detectMount, kvFor, type KvMountInfo } from '../vault/kv.js';
import { FileKv, prepareRoot } from './file-kv.js';
import { StateStore } from './store.js';

export interface StoreInput {
  /** `vault`, `file:PATH`, or undefined for "Vault when an address is configured, else the local store". */
  store?: string | undefined;
  vault: VaultSettingsInput;
  /** How to get a token (`--vault-auth` and friends); environment and inference when absent. */
  auth?: AuthInput | undefined;
  mount?: string | undefined;
  prefix?: string | undefined;
  logger: Logger;
  onVaultResponse?: (info: { method: string; path: string; status: number; ms: number }) => void;
}

export interface OpenedStore {
  store: StateStore;
  /** One line for stderr when the choice was implicit. */
  notice?: string;
  vault?: { client: VaultClient; settings: VaultSettings; mount: KvMountInfo; auth: VaultAuth };
}

export const DEFAULT_MOUNT = 'secret';
export const DEFAULT_PREFIX = 'lets-encrypt';

export function defaultLocalRoot(): string {
  if (process.env.CERTVAULT_HOME) return resolve(process.env.CERTVAULT_HOME);
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'certvault');
}

/** Parses `--store` without touching the network, so usage errors come before any I/O. */
export function parseStoreOption(
  store: string | undefined,
  vault: VaultSettingsInput,
): { kind: 'vault' } | { kind: 'file'; root: string; implicit: boolean } {
  const spec = store ?? process.env.CERTVAULT_STORE;
  if (spec === undefined || spec === '') {
    return vaultAddress(vault)
      ? { kind: 'vault' }
      : { kind: 'file', root: defaultLocalRoot(), implicit: true };
  }
  if (spec === 'vault') return { kind: 'vault' };
  if (spec.startsWith('file:') && spec.length > 5)
    return { kind: 'file', root: resolve(spec.slice(5)), implicit: false };
  throw configError(`invalid --store "${spec}"`, 'use "vault" or "file:PATH"');
}

export async function openStore(input: StoreInput): Promise<OpenedStore> {
  const choice = parseStoreOption(input.store, input.vault);
  if (choice.kind === 'file') {
    await prepareRoot(choice.root).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw configError(
        `cannot create the local store at ${choice.root} (${code})`,
        'set CERTVAULT_HOME or --store file:PATH to a writable directory, or VAULT_ADDR to use Vault',
      );
    });
    const store = new StateStore(new FileKv(choice.root), '', `file:${choice.root}`, {
      logger: input.logger,
    });
    const opened: OpenedStore = { store };
    if (choice.implicit) {
      opened.notice = `certvault: no Vault address configured, keeping state in ${choice.root} (set VAULT_ADDR or --store to change)`;
    }
    return opened;
  }
  const settings = resolveVaultSettings(input.vault);
  const plan = resolveAuthPlan(input.auth ?? {});
  const auth = new VaultAuth(
    plan,
    { token: settings.token, source: settings.tokenSource, renewable: settings.tokenRenewable },
    input.logger,
  );
  const client = new VaultClient({
    addr: settings.addr,
    token: () => auth.token(),
    onBadToken: (used, rejected) => auth.recover(used, rejected),
    namespace: settings.namespace,
    caCertPem: settings.caCertPem,
    insecure: settings.insecure,
    timeoutMs: settings.timeoutMs,
    logger: input.logger,
    ...(input.onVaultResponse ? { onResponse: input.onVaultResponse } : {}),
  });
  auth.bind(client);
  const { mount, prefix } = mountAndPrefix(input.mount, input.prefix);
  // A login comes first; looking up a given token (to renew it in long runs) can go alongside.
  const started = auth.start();
  if (plan.method !== 'token') await started;
  const info = await detectMount(client, `${mount}/${prefix}`);
  await started;
  // A nested mount (e.g. `kv/team`) may swallow part of what the user called the prefix.
  const full = `${mount}/${prefix}`.replace(/\/+/g, '/');
  const rest = full.startsWith(`${info.mount}/`) ? full.slice(info.mount.length + 1) : prefix;
  const kv = kvFor(client, info.mount, info.version);
  const ns = settings.namespace ? ` namespace ${settings.namespace}` : '';
  const store = new StateStore(
    kv,
    rest.replace(/\/+$/, ''),
    `vault ${client.addr}${ns} ${info.mount}/${rest} (KV v${info.version})`,
    { logger: input.logger },
  );
  return {
    store,
    vault: { client, settings: { ...settings, tokenSource: auth.describe() }, mount: info, auth },
  };
}

export function mountAndPrefix(mount?: string, prefix?: string): { mount: string; prefix: string } {
  const m = (mount ?? process.env.CERTVAULT_VAULT_MOUNT ?? DEFAULT_MOUNT).replace(/^\/+|\/+$/g, '');
  const p = (prefix ?? process.env.CERTVAULT_VAULT_PREFIX ?? DEFAULT_PREFIX).replace(/^\/+|\/+$/g, '');
  if (!m) throw configError('empty --vault-mount', `use the KV mount path, e.g. ${DEFAULT_MOUNT}`);
  if (!p || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw configError(`invalid --vault-prefix "${p}"`, `use a path like ${DEFAULT_PREFIX}`);
  }
  return { mount: m, prefix: p };
}
