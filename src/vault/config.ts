import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { configError } from '../errors.js';

/** Where the Vault connection settings come from: flags win over environment, then defaults. */
export interface VaultSettingsInput {
  addr?: string | undefined;
  namespace?: string | undefined;
  caCert?: string | undefined;
  tokenFile?: string | undefined;
  insecure?: boolean | undefined;
  timeoutMs?: number | undefined;
}

export interface VaultSettings {
  addr: string;
  namespace: string | undefined;
  caCertPem: string | undefined;
  insecure: boolean;
  timeoutMs: number;
  /** Describes the token source for `doctor`, never the token. */
  tokenSource: string;
  token: () => string | undefined;
  /** False for a token file (a Vault Agent sink): the Agent renews that token, certvault does not. */
  tokenRenewable: boolean;
}

const env = (name: string): string | undefined => {
  const v = process.env[name] ?? process.env[name.replace(/^VAULT_/, 'BAO_')];
  return v === undefined || v === '' ? undefined : v;
};

export function vaultAddress(input: VaultSettingsInput): string | undefined {
  return input.addr ?? env('VAULT_ADDR');
}

export function resolveVaultSettings(input: VaultSettingsInput): VaultSettings {
  const addr = vaultAddress(input);
  if (!addr) throw configError('no Vault address configured', 'set VAULT_ADDR or pass --vault-addr');
  const caPath = input.caCert ?? env('VAULT_CACERT');
  let caCertPem: string | undefined;
  if (caPath) {
    try {
      caCertPem = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw configError(
        `cannot read the Vault CA certificate ${caPath} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        'fix VAULT_CACERT or --vault-ca-cert',
      );
    }
  }
  const tokenFile = input.tokenFile ?? env('CERTVAULT_VAULT_TOKEN_FILE');
  const { token, source } = tokenSource(tokenFile);
  return {
    addr,
    namespace: input.namespace ?? env('VAULT_NAMESPACE'),
    caCertPem,
    insecure: input.insecure === true,
    timeoutMs: input.timeoutMs ?? 10_000,
    tokenSource: source,
    token,
    tokenRenewable: !tokenFile,
  };
}

/**
 * Token order: an explicit token file (e.g. a Vault Agent sink, re-read when it changes), VAULT_TOKEN,
 * then ~/.vault-token as the Vault CLI writes it.
 */
function tokenSource(tokenFile: string | undefined): { token: () => string | undefined; source: string } {
  if (tokenFile) {
    const reader = fileTokenReader(tokenFile, true);
    return { token: reader, source: `token file ${tokenFile}` };
  }
  const fromEnv = env('VAULT_TOKEN');
  if (fromEnv) return { token: () => fromEnv, source: process.env.VAULT_TOKEN ? 'VAULT_TOKEN' : 'BAO_TOKEN' };
  const home = join(homedir(), '.vault-token');
  return { token: fileTokenReader(home, false), source: `${home}` };
}

function fileTokenReader(path: string, required: boolean): () => string | undefined {
  let cached: { mtimeMs: number; token: string | undefined } | undefined;
  return () => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      if (required)
        throw configError(
          `cannot read the Vault token file ${path}`,
          'check --vault-token-file / CERTVAULT_VAULT_TOKEN_FILE',
        );
      return undefined;
    }
    if (!cached || cached.mtimeMs !== mtimeMs) {
      cached = { mtimeMs, token: readFileSync(path, 'utf8').trim() || undefined };
    }
    return cached.token;
  };
}
