// Shared by bench/list.ts and bench/renew.ts: the Vault emulator in its own process (with its
// `--stats` routes), fast certificates that carry an ARI certificate ID, filling the store the way
// certvault writes it, timing the built CLI, and writing a generated block into docs/benchmarks.md.
import 'reflect-metadata';
import { execFileSync, spawn } from 'node:child_process';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { StateStore } from '../src/store/store.js';
import type { CertificateMaterial, RenewalState } from '../src/store/types.js';
import { mapLimit } from '../src/util/map-limit.js';
import { VaultClient } from '../src/vault/client.js';
import { kvFor } from '../src/vault/kv.js';
import { CLI } from '../test/support/cli.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const PREFIX = 'lets-encrypt';

export interface EmulatorStats {
  total: number;
  serverMs: number;
  cpuMs: number;
  counters: Record<string, number>;
  folders: Record<string, number>;
}

export interface EmulatorProcess {
  addr: string;
  token: string;
  stats(): Promise<EmulatorStats>;
  reset(): Promise<void>;
  stop(): void;
}

/**
 * `test/support/vault-emulator-main.ts --stats` as a child process: a real Vault is a separate
 * process too, and the CLI under test must not share an event loop (or a core) with its server.
 */
export async function startEmulatorProcess(): Promise<EmulatorProcess> {
  const token = randomBytes(16).toString('hex');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/vault-emulator-main.ts', '--port', '0', '--token', token, '--stats'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const addr = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim().split('\n')[0]!));
    child.once('exit', (code) => reject(new Error(`vault emulator exited (${code})`)));
  });
  return {
    addr,
    token,
    stats: async () => (await (await fetch(`${addr}/__emulator/stats`)).json()) as EmulatorStats,
    reset: async () => {
      await fetch(`${addr}/__emulator/reset`, { method: 'POST' });
    },
    stop: () => child.kill('SIGTERM'),
  };
}

export function storeFor(emu: { addr: string; token: string }, prefix = PREFIX): StateStore {
  const client = new VaultClient({ addr: emu.addr, token: () => emu.token });
  return new StateStore(kvFor(client, 'secret', 2), prefix, `bench ${emu.addr}`);
}

/**
 * `count` leaf certificates (ECDSA P-256, 90 days, issued an hour ago) from one test CA, with an
 * Authority Key Identifier so that each has an ARI certificate ID, as real CA certificates do.
 */
export async function benchCertificates(count: number): Promise<CertificateMaterial[]> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const caKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=certvault bench CA',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 3650 * 86_400_000),
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const chain = `${ca.toString('pem')}\n`;
  const out: CertificateMaterial[] = [];
  for (let i = 0; i < count; i++) {
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: `1${randomBytes(8).toString('hex')}`,
      subject: `CN=bench${i}.example.test`,
      issuer: ca.subject,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 90 * 86_400_000),
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: `bench${i}.example.test` },
          { type: 'dns', value: `*.bench${i}.example.test` },
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    const cert = `${leaf.toString('pem')}\n`;
    const privkey = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    out.push({ cert, chain, fullchain: cert + chain, privkey });
  }
  return out;
}

export const certName = (i: number) => `host${String(i).padStart(5, '0')}.example.test`;

/**
 * Stores `count` certificates as certvault does (`StateStore.putCertificate`: the PEMs in one
 * check-and-set write, then the facts as custom metadata), reusing a few PEMs, and for each a renewal
 * state as `renew` leaves it after asking the CA: an ARI window 30 days ahead for that certificate's
 * ARI ID, with a Retry-After 6 hours ahead (so nothing is due and the CA need not be asked).
 */
export async function fillStore(
  store: StateStore,
  count: number,
  pems: CertificateMaterial[],
): Promise<number> {
  const { certificateFacts } = await import('../src/pki/cert.js');
  const ariIds = pems.map((p) => certificateFacts(p.cert).ariId);
  if (ariIds.some((id) => !id)) throw new Error('bench certificates must have an ARI ID');
  const now = Date.now();
  const t0 = performance.now();
  await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    32,
    async (i) => {
      const name = certName(i);
      await store.putCertificate(name, pems[i % pems.length]!, 0);
      const state: RenewalState = {
        failures: 0,
        lastSuccess: new Date(now - 3600_000).toISOString(),
        ari: {
          windowStart: new Date(now + 30 * 86_400_000).toISOString(),
          windowEnd: new Date(now + 32 * 86_400_000).toISOString(),
          selectedTime: new Date(now + 31 * 86_400_000).toISOString(),
          retryAfter: new Date(now + 6 * 3600_000).toISOString(),
          certSerial: ariIds[i % pems.length]!,
        },
      };
      await store.putState(name, state);
    },
  );
  return performance.now() - t0;
}

export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** From /usr/bin/time when present: CPU seconds of the CLI process and its peak RSS. */
  cpuS?: number;
  maxRssMb?: number;
}

const TIME_BIN = '/usr/bin/time';

/** Runs the built CLI (spawn → exit wall clock), with a clean environment plus `env`. */
export function timeCli(
  args: string[],
  env: Record<string, string>,
  opts: { nodeArgs?: string[] } = {},
): Promise<Timed> {
  const fullEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    NO_COLOR: '1',
    ...env,
  };
  const dir = mkdtempSync(join(tmpdir(), 'certvault-bench-'));
  const timeFile = join(dir, 'time');
  const node = [process.execPath, ...(opts.nodeArgs ?? []), CLI, ...args];
  const [cmd, ...argv] = existsSync(TIME_BIN) ? [TIME_BIN, '-o', timeFile, '-f', '%U %S %M', ...node] : node;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd!, argv, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const r: Timed = {
        ms,
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (existsSync(timeFile)) {
        const [u, s, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
        r.cpuS = u! + s!;
        r.maxRssMb = kb! / 1024;
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A fixed JS loop (10^8 additions): how fast this machine's cores are right now, to compare runs. */
function loopMs(): number {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x += i;
  if (x < 0) console.log(x);
  return performance.now() - t0;
}

export function machineLine(): string {
  const l = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  return `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, load average at start ${l}, a 10^8-step JS loop took ${loopMs().toFixed(0)} ms`;
}

/**
 * Replaces `<!-- bench:KEY:start -->` … `<!-- bench:KEY:end -->` in docs/benchmarks.md (re-read right
 * before writing, so sections others edit meanwhile are kept). Fails if the markers are missing.
 */
export function writeGenerated(key: string, body: string): void {
  const file = 'docs/benchmarks.md';
  const text = readFileSync(file, 'utf8');
  const start = `<!-- bench:${key}:start`;
  const end = `<!-- bench:${key}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file}: no ${start} … ${end} block`);
  const head = text.slice(0, text.indexOf('\n', i) + 1);
  writeFileSync(file, `${head}${body.trimEnd()}\n${text.slice(j)}`);
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

const sourceMaps = new Map<string, SourceMap | null>();

/**
 * Where a profiled frame's code came from: the CLI is a bundle (scripts/bundle.mjs), so a frame in
 * dist/ is looked up in its source map to tell certvault's own code (src/) from a dependency's.
 */
export function sourceOf(frame: CallFrame): string {
  if (!frame.url.startsWith('file://') || !frame.url.includes('/dist/')) return frame.url;
  const file = fileURLToPath(frame.url);
  let map = sourceMaps.get(file);
  if (map === undefined) {
    map = existsSync(`${file}.map`)
      ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload)
      : null;
    sourceMaps.set(file, map);
  }
  const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
  return entry && 'originalSource' in entry ? entry.originalSource : frame.url;
}

function category(url: string): string {
  if (/undici/.test(url)) return 'HTTP client (undici, fetch)';
  if (url.startsWith('node:')) return 'Node internals (net, streams, timers, module loader)';
  if (/node_modules\/zod/.test(url)) return 'zod (record validation)';
  if (/node_modules\//.test(url)) return 'other dependencies';
  if (/\/(src|dist)\//.test(url)) return 'certvault code';
  return 'other';
}

/**
 * Self time of a `--cpu-prof` profile by coarse category, in ms, largest first. Native frames (socket
 * writes, the wasm HTTP parser, microtask runs) count for the nearest caller that has a source URL.
 */
export function summarizeProfile(file: string): Array<[string, number]> {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cats = new Map<number, string>();
  const catOf = (id: number): string => {
    const known = cats.get(id);
    if (known) return known;
    const frame = byId.get(id)!.callFrame;
    const { functionName } = frame;
    const url = sourceOf(frame);
    let cat: string;
    if (functionName === '(idle)') cat = 'idle (waiting for Vault, I/O)';
    else if (functionName === '(garbage collector)') cat = 'garbage collection';
    else if (functionName === '(program)') cat = 'V8/native (compiling, parsing, native code)';
    else if (url) cat = category(url);
    else {
      const p = parent.get(id);
      cat = p === undefined || byId.get(p)!.callFrame.functionName === '(root)' ? 'other' : catOf(p);
    }
    cats.set(id, cat);
    return cat;
  };
  const totals = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const cat = catOf(id);
    totals.set(cat, (totals.get(cat) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

/** Runs the CLI once with `--cpu-prof` and returns its summary. */
export async function profileCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ run: Timed; summary: Array<[string, number]> }> {
  const dir = mkdtempSync(join(tmpdir(), 'certvault-prof-'));
  try {
    const run = await timeCli(args, env, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
    const { readdirSync } = await import('node:fs');
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no CPU profile written');
    return { run, summary: summarizeProfile(join(dir, file)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The code measured: last commit, and whether src/ had uncommitted changes. */
export function codeVersion(): string {
  try {
    const head = execFileSync('git', ['log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8' }).trim();
    return `\`${head.length > 72 ? `${head.slice(0, 71)}…` : head}\`${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown';
  }
}
