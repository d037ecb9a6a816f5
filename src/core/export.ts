import { execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CertvaultError, configError, errorText, operationError, usageError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { StateStore } from '../store/store.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { CertificateMaterial, StoredCertificate } from '../store/types.js';
import { VaultError } from '../vault/errors.js';
import { formatSeconds, hookEnvironment, runShell, type ActionResult } from './hooks.js';

export const EXPORT_FORMATS = ['certbot', 'pem', 'pkcs12'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportTarget {
  name: string;
  dir: string;
  format: ExportFormat;
  /** Required for pkcs12; handed to openssl through its environment, never argv. */
  p12Password?: string | undefined;
  owner?: { uid: number; gid: number } | undefined;
}

export interface ExportResult {
  name: string;
  domains: string[];
  version: number;
  notAfter: string;
  /** Whether any file's content changed (a reload is due). */
  changed: boolean;
  /** Every file of the format, and the ones (re)written this time. */
  files: string[];
  written: string[];
}

/** One output file: `current` tells whether what is on disk already holds this certificate. */
interface PlannedFile {
  path: string;
  mode: number;
  current(existing: Buffer): Promise<boolean>;
  content(): Promise<Buffer>;
}

const KEY_MODE = 0o600;
const PUBLIC_MODE = 0o644;

/**
 * Writes a stored certificate into `dir` for a consumer that reads files (nginx, haproxy, Java).
 * Each file is replaced atomically (temporary file in `dir`, then rename) and only when its content
 * differs, so an unchanged certificate causes no write and no reload.
 */
export async function exportCertificate(store: StateStore, target: ExportTarget): Promise<ExportResult> {
  const cert = await store.getCertificate(target.name);
  if (!cert)
    throw configError(`no certificate named "${target.name}" in ${store.location}`, 'see `certvault list`');
  if (!cert.material.privkey)
    throw operationError(
      `the certificate "${target.name}" has no private key stored`,
      'issue it again with certvault',
    );
  await mkdir(target.dir, { recursive: true, mode: 0o755 }).catch((err: unknown) => {
    throw operationError(`cannot create ${target.dir}: ${errorText(err)}`);
  });
  const planned = plan(target, cert);
  const written: string[] = [];
  for (const file of planned) {
    const existing = await readFile(file.path).catch(() => null);
    if (existing && (await file.current(existing))) {
      await fixMetadata(file.path, file.mode, target.owner);
      continue;
    }
    await writeAtomic(file.path, await file.content(), file.mode, target.owner);
    written.push(file.path);
  }
  if (written.length > 0) await syncDir(target.dir);
  return {
    name: target.name,
    domains: cert.domains,
    version: cert.version,
    notAfter: cert.notAfter.toISOString(),
    changed: written.length > 0,
    files: planned.map((f) => f.path),
    written,
  };
}

function plan(target: ExportTarget, cert: StoredCertificate): PlannedFile[] {
  const m = cert.material;
  const text = (path: string, mode: number, body: string): PlannedFile => {
    const content = Buffer.from(body.endsWith('\n') ? body : `${body}\n`);
    return {
      path,
      mode,
      current: async (existing) => existing.equals(content),
      content: async () => content,
    };
  };
  const at = (file: string) => join(target.dir, file);
  switch (target.format) {
    case 'certbot':
      // The names Certbot uses in live/<name>/, so existing configurations keep working.
      return [
        text(at('cert.pem'), PUBLIC_MODE, m.cert),
        text(at('chain.pem'), PUBLIC_MODE, m.chain),
        text(at('fullchain.pem'), PUBLIC_MODE, m.fullchain),
        text(at('privkey.pem'), KEY_MODE, m.privkey),
      ];
    case 'pem':
      // Key first, then the full chain: what haproxy's `crt` and many appliances expect.
      return [text(at(`${target.name}.pem`), KEY_MODE, `${m.privkey.trimEnd()}\n${m.fullchain}`)];
    case 'pkcs12': {
      const password = target.p12Password;
      if (!password) throw usageError('--format pkcs12 needs --p12-password', 'give @env:VAR or @file:PATH');
      return [
        {
          path: at(`${target.name}.p12`),
          mode: KEY_MODE,
          // PKCS#12 output is salted, so compare the certificates inside instead of the bytes.
          current: async (existing) => samePems(await pkcs12Certificates(existing, password), m.fullchain),
          content: () => pkcs12(m, target.name, password),
        },
      ];
    }
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

function pemBodies(pem: string): string[] {
  return [...pem.matchAll(PEM_BLOCK)].map((b) => (b[1] ?? '').replace(/\s+/g, ''));
}

function samePems(a: string | null, b: string): boolean {
  if (a === null) return false;
  const x = pemBodies(a);
  const y = pemBodies(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const P12_ENV = 'CERTVAULT_P12_PASSWORD';

/** `openssl pkcs12 -export`: OpenSSL 3 defaults (AES-256, PBKDF2); key and chain on stdin. */
async function pkcs12(m: CertificateMaterial, name: string, password: string): Promise<Buffer> {
  const out = await openssl(
    ['pkcs12', '-export', '-name', name, '-passout', `env:${P12_ENV}`],
    `${m.privkey.trimEnd()}\n${m.fullchain}`,
    password,
  );
  if (out.code !== 0)
    throw operationError(
      `openssl could not build the PKCS#12 file (exit ${out.code})`,
      'check that openssl 1.1 or later is installed',
    );
  return out.stdout;
}

/** The certificates inside a PKCS#12 file, or null when it cannot be read with this password. */
async function pkcs12Certificates(p12: Buffer, password: string): Promise<string | null> {
  const out = await openssl(['pkcs12', '-nokeys', '-passin', `env:${P12_ENV}`], p12, password);
  return out.code === 0 ? out.stdout.toString('utf8') : null;
}

function openssl(
  args: string[],
  input: string | Buffer,
  password: string,
): Promise<{ code: number; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...process.env, [P12_ENV]: password },
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', (err) =>
      reject(configError(`cannot run openssl: ${errorText(err)}`, 'install openssl for --format pkcs12')),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(chunks) }));
    child.stdin.on('error', () => undefined); // openssl may exit before reading everything
    child.stdin.end(input);
  });
}

/** Mode and owner are set before the file appears under its name. */
async function writeAtomic(
  path: string,
  content: Buffer,
  mode: number,
  owner: ExportTarget['owner'],
): Promise<void> {
  await writeFileAtomic(path, content, { mode, owner }).catch((err: unknown) => {
    throw operationError(
      `cannot write ${path}: ${errorText(err)}`,
      owner ? 'changing the owner needs root (or CAP_CHOWN)' : "check the folder's permissions",
    );
  });
}

/** An unchanged file still gets the right mode and owner (someone may have changed them). */
async function fixMetadata(path: string, mode: number, owner: ExportTarget['owner']): Promise<void> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o777) !== mode) await chmod(path, mode);
    if (owner && (st.uid !== owner.uid || st.gid !== owner.gid)) await chown(path, owner.uid, owner.gid);
  } catch (err) {
    throw operationError(`cannot set the mode or owner of ${path}: ${errorText(err)}`);
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the renames durable; not every file system allows it, and it is not essential.
  const fh = await open(dir, 'r').catch(() => null);
  await fh?.sync().catch(() => undefined);
  await fh?.close();
}

const execFileP = promisify(execFile);

/** `USER:GROUP` (names or numeric ids), or `USER` alone for the user's primary group. */
export async function resolveOwner(spec: string): Promise<{ uid: number; gid: number }> {
  const [user, group, extra] = spec.split(':');
  if (!user || extra !== undefined || group === '')
    throw usageError(`invalid --owner "${spec}"`, 'use USER:GROUP, e.g. www-data:www-data or 33:33');
  const pw = /^\d+$/.test(user) ? null : await lookup('passwd', user);
  if (!/^\d+$/.test(user) && !pw) throw usageError(`--owner: no user "${user}" on this system`);
  const uid = pw ? Number(pw[2]) : Number(user);
  let gid: number;
  if (group === undefined) {
    if (!pw)
      throw usageError(`invalid --owner "${spec}"`, 'give the group too when the user is numeric (UID:GID)');
    gid = Number(pw[3]);
  } else if (/^\d+$/.test(group)) {
    gid = Number(group);
  } else {
    const gr = await lookup('group', group);
    if (!gr) throw usageError(`--owner: no group "${group}" on this system`);
    gid = Number(gr[2]);
  }
  return { uid, gid };
}

/** getent (NSS: LDAP, sssd…) when available, else the plain /etc file. */
async function lookup(db: 'passwd' | 'group', name: string): Promise<string[] | null> {
  try {
    const { stdout } = await execFileP('getent', [db, name]);
    const line = stdout.split('\n')[0];
    if (line) return line.split(':');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null; // getent ran: not found
  }
  const text = await readFile(`/etc/${db}`, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.split(':')[0] === name);
  return line ? line.split(':') : null;
}

export interface ExportRun {
  result: ExportResult;
  /** Present when a reload command ran. */
  reload?: ActionResult;
}

export interface ReloadSettings {
  command: string;
  timeoutMs: number;
}

/** Exports, then runs the reload command when a file changed (or `forceReload`, after a failed one). */
export async function exportAndReload(
  store: StateStore,
  target: ExportTarget,
  reload: ReloadSettings | undefined,
  forceReload = false,
): Promise<ExportRun> {
  const result = await exportCertificate(store, target);
  if (!reload || (!result.changed && !forceReload)) return { result };
  const env = {
    ...hookEnvironment(result.name, result.domains, store.path('certificates', result.name), result.notAfter),
    CERTVAULT_EXPORT_DIR: target.dir,
  };
  return { result, reload: await runShell(reload.command, { env, timeoutMs: reload.timeoutMs }) };
}

export interface WatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  logger: Logger;
  reload?: ReloadSettings | undefined;
  onExport: (run: ExportRun) => void;
}

/**
 * `export --watch`: exports now, then every interval compares the stored version (metadata only) and
 * exports again when it changed. Vault or network trouble is logged and retried at the next tick; a
 * failed reload is retried too. Returns when `signal` fires (SIGTERM), after the current step.
 */
export async function watchExport(
  openStore: () => Promise<StateStore>,
  target: ExportTarget,
  opts: WatchOptions,
): Promise<void> {
  let lastVersion: number | undefined;
  let reloadPending = false;
  let metadataDenied = false;
  /** The current version, from metadata; a reader policy that may not read metadata reads the secret. */
  const currentVersion = async (store: StateStore): Promise<number | null> => {
    if (!metadataDenied) {
      try {
        return (await store.getCertificateSummary(target.name))?.version ?? null;
      } catch (err) {
        if (!(err instanceof VaultError && err.status === 403)) throw err;
        metadataDenied = true;
        opts.logger.info(
          { name: target.name },
          'the token may not read metadata; checking the secret itself each interval',
        );
      }
    }
    return (await store.getCertificate(target.name))?.version ?? null;
  };
  for (let first = true; !opts.signal.aborted; first = false) {
    if (!first) {
      try {
        await sleep(opts.intervalMs, undefined, { signal: opts.signal });
      } catch {
        break; // aborted
      }
    }
    try {
      const store = await openStore();
      const version = await currentVersion(store);
      if (version === null) {
        opts.logger.warn(
          { name: target.name },
          `no certificate named "${target.name}" in ${store.location} yet; checking again in ${formatSeconds(opts.intervalMs)}`,
        );
        continue;
      }
      // KV v1 has no versions (always 0): there, exportCertificate compares the content every time.
      if (version === lastVersion && version !== 0 && !reloadPending) continue;
      const run = await exportAndReload(store, target, opts.reload, reloadPending);
      lastVersion = run.result.version;
      reloadPending = run.reload !== undefined && !run.reload.ok;
      opts.onExport(run);
    } catch (err) {
      // Bad input or configuration never gets better by waiting; Vault or network trouble may.
      const kind = err instanceof CertvaultError ? err.kind : 'operation';
      if (kind === 'usage' || (kind === 'config' && lastVersion === undefined)) throw err;
      opts.logger.warn(
        { name: target.name },
        `export failed, trying again in ${formatSeconds(opts.intervalMs)}: ${errorText(err)}`,
      );
    }
  }
}
