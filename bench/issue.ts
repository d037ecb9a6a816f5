// npm run bench:issue -- [--runs 7] [--bulk 50] [--only certvault,certbot,lego] [--skip-defaults] [--write]
//
// Wall time of ONE certificate (`*.<name>` + `<name>`, a fresh name per run) on a private Pebble + BIND 9
// on 127.0.0.1, for certvault (built CLI; local store and Vault emulator), Certbot and lego (their
// defaults and their fastest working settings); then N certificates through certvault's core API from
// one process with bounded concurrency; then a timeline of one certvault run, to show where time goes.
// Every client has its ACME account (and certvault its DNS credentials) registered before timing, and
// one untimed warm-up issuance. `--write` replaces the generated block in docs/benchmarks.md.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { issue } from '../src/core/issue.js';
import { createLogger } from '../src/ops/log.js';
import { openStore } from '../src/store/open.js';
import { mapLimit } from '../src/util/map-limit.js';
import { CLI } from '../test/support/cli.js';
import { sourceOf, type CallFrame } from './vault-bench.js';
import { setupCommands, startStack, type Stack } from '../test/support/stack.js';

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    bulk: { type: 'string', default: '50' },
    only: { type: 'string', default: 'certvault,certbot,lego' },
    'skip-defaults': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const RUNS = Number(opt.runs);
const BULK = Number(opt.bulk);
const ONLY = new Set(opt.only.split(','));

interface Timed {
  ms: number;
  code: number | null;
  out: string;
}

/** Spawn → exit, wall clock. Output is kept only to explain a failure. */
function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 240_000,
  keepChars = 1_000_000,
): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-keepChars));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => keep(Buffer.from(String(err))));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, out });
    });
  });
}

const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), NO_COLOR: '1' };
const dirs: string[] = [];
const tempDir = (tag: string) => {
  const d = mkdtempSync(join(tmpdir(), `certvault-bench-${tag}-`));
  dirs.push(d);
  return d;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const version = (pkg: string) => {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  } catch {
    return 'not installed';
  }
};
const has = (bin: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** One client configuration: how to issue for a fresh name, shown in the table with its settings. */
interface Contender {
  client: string;
  settings: string;
  /** Whether one untimed issuance should precede the timed runs (not for the slow defaults). */
  warmUp: boolean;
  issue(name: string): Promise<Timed>;
}

/** Vault emulator in its own process, like a real Vault, so it never shares our event loop. */
async function startVaultEmulator(): Promise<{ addr: string; token: string; stop(): void }> {
  const token = randomBytes(16).toString('hex');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/vault-emulator-main.ts', '--port', '0', '--token', token],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const addr = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim().split('\n')[0]!));
    child.once('exit', (code) => reject(new Error(`vault emulator exited (${code})`)));
  });
  return { addr, token, stop: () => child.kill('SIGTERM') };
}

async function certvaultContenders(
  stack: Stack,
  vault: { addr: string; token: string },
  storeRoot: string,
): Promise<Contender[]> {
  const common = {
    ...base,
    CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
    TSIG_SECRET: stack.bind.keys.sha256.secret,
  };
  const stores = [
    {
      settings: 'local store (`--store file:DIR`)',
      env: { ...common, CERTVAULT_STORE: `file:${storeRoot}` },
    },
    {
      settings: 'Vault emulator (`VAULT_ADDR`, KV v2)',
      env: { ...common, VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.token },
    },
  ];
  const out: Contender[] = [];
  for (const s of stores) {
    const cli = (...args: string[]) => timed(process.execPath, [CLI, ...args], s.env);
    const { register, dnsSet } = setupCommands(stack, { email: 'bench@example.test', dnsName: 'local' });
    for (const setup of [register, dnsSet]) {
      const r = await cli(...setup);
      if (r.code !== 0) throw new Error(`certvault ${setup.slice(0, 2).join(' ')}: ${r.out}`);
    }
    out.push({
      client: 'certvault',
      settings: s.settings,
      warmUp: true,
      issue: (d) => cli('issue', '-d', `*.${d}`, '-d', d, '--dns', 'local'),
    });
  }
  return out;
}

async function certbotContenders(stack: Stack): Promise<Contender[]> {
  const dir = tempDir('certbot');
  // The TSIG secret goes into a 0600 credentials file, as the plugin requires; it is never printed.
  const ini = join(dir, 'rfc2136.ini');
  writeFileSync(
    ini,
    [
      `dns_rfc2136_server = ${stack.bind.host}`,
      `dns_rfc2136_port = ${stack.bind.port}`,
      `dns_rfc2136_name = ${stack.bind.keys.sha256.name}`,
      `dns_rfc2136_secret = ${stack.bind.keys.sha256.secret}`,
      'dns_rfc2136_algorithm = HMAC-SHA256',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env = { ...base, REQUESTS_CA_BUNDLE: stack.acmeCaFile };
  const common = [
    '--non-interactive',
    '--config-dir',
    join(dir, 'config'),
    '--work-dir',
    join(dir, 'work'),
    '--logs-dir',
    join(dir, 'logs'),
    '--server',
    stack.pebble.directoryUrl,
  ];
  const reg = await timed(
    'certbot',
    ['register', ...common, '--agree-tos', '-m', 'bench@example.test', '--no-eff-email'],
    env,
  );
  if (reg.code !== 0) throw new Error(`certbot register: ${reg.out}`);
  const run = (extra: string[]) => (d: string) =>
    timed(
      'certbot',
      [
        'certonly',
        ...common,
        '--dns-rfc2136',
        '--dns-rfc2136-credentials',
        ini,
        ...extra,
        '--cert-name',
        d,
        '-d',
        `*.${d}`,
        '-d',
        d,
      ],
      env,
    );
  return [
    {
      client: 'certbot',
      settings: '`--dns-rfc2136-propagation-seconds 0` (fastest)',
      warmUp: true,
      issue: run(['--dns-rfc2136-propagation-seconds', '0']),
    },
    { client: 'certbot', settings: 'defaults (propagation 60 s)', warmUp: false, issue: run([]) },
  ];
}

async function legoContenders(stack: Stack): Promise<Contender[]> {
  const dir = tempDir('lego');
  const env = {
    ...base,
    LEGO_CA_CERTIFICATES: stack.acmeCaFile,
    RFC2136_NAMESERVER: stack.dnsServer,
    RFC2136_TSIG_KEY: stack.bind.keys.sha256.name,
    RFC2136_TSIG_SECRET: stack.bind.keys.sha256.secret,
    RFC2136_TSIG_ALGORITHM: 'hmac-sha256.',
  };
  const fast = { ...env, RFC2136_SEQUENCE_INTERVAL: '0', RFC2136_POLLING_INTERVAL: '0' };
  // --dns.disable-cp is needed even for "defaults": without it lego resolves the zone's NS name with the
  // system resolver and queries it on port 53, which cannot reach a BIND on a free port.
  const args = (d: string) => [
    '--server',
    stack.pebble.directoryUrl,
    '--path',
    dir,
    '--email',
    'bench@example.test',
    '--accept-tos',
    '--dns',
    'rfc2136',
    '--dns.resolvers',
    stack.dnsServer,
    '--dns.disable-cp',
    '-d',
    `*.${d}`,
    '-d',
    d,
    'run',
  ];
  // lego has no separate register command: the first run registers the account (and is lego's warm-up).
  const reg = await timed('lego', args(`${stack.bind.unique()}.example.test`), fast);
  if (reg.code !== 0) throw new Error(`lego registration run: ${reg.out}`);
  return [
    {
      client: 'lego',
      settings: '`RFC2136_SEQUENCE_INTERVAL=0 RFC2136_POLLING_INTERVAL=0` (fastest)',
      warmUp: false,
      issue: (d) => timed('lego', args(d), fast),
    },
    {
      client: 'lego',
      settings: 'defaults (sequence interval 60 s, polling 2 s)',
      warmUp: false,
      issue: (d) => timed('lego', args(d), env),
    },
  ];
}

interface Row {
  client: string;
  settings: string;
  ms: number[];
  failures: string[];
}

/**
 * Timed runs of a group of contenders, interleaved (run i of each, then run i+1), so that load from
 * elsewhere on a shared machine spreads over all of them instead of skewing one.
 */
async function measure(group: Contender[], stack: Stack): Promise<Row[]> {
  for (const c of group) if (c.warmUp) await c.issue(`${stack.bind.unique()}.example.test`);
  const rows: Row[] = group.map((c) => ({ client: c.client, settings: c.settings, ms: [], failures: [] }));
  for (let i = 0; i < RUNS; i++) {
    for (const [j, c] of group.entries()) {
      const row = rows[j]!;
      const r = await c.issue(`${stack.bind.unique()}.example.test`);
      if (r.code === 0) row.ms.push(r.ms);
      else row.failures.push(r.out.trim().split('\n').slice(-2).join(' '));
      process.stderr.write(
        `  ${c.client} ${c.settings}: run ${i + 1}/${RUNS} ${r.code === 0 ? sec(r.ms) : 'FAILED'}\n`,
      );
    }
  }
  return rows;
}

/** N certificates from one process through the core API, `limit` at a time. */
async function bulk(storeSpec: string, limit: number, stack: Stack): Promise<{ ms: number; ok: number }> {
  const logger = createLogger('silent');
  const { store } = await openStore({ store: storeSpec, vault: {}, logger });
  const caCertPem = readFileSync(stack.acmeCaFile, 'utf8');
  const names = Array.from({ length: BULK }, () => `${stack.bind.unique()}.example.test`);
  const t0 = performance.now();
  const results = await mapLimit(names, limit, (d) =>
    issue(
      store,
      {
        domains: [`*.${d}`, d],
        dns: 'local',
        keyType: 'ecdsa-p256',
        reuseKey: false,
        force: false,
        propagationTimeoutMs: 120_000,
        timeoutMs: 300_000,
      },
      { caCertPem, logger, progress: () => {} },
    ).then(
      () => true,
      (err: unknown) => (process.stderr.write(`  bulk ${d}: ${String(err)}\n`), false),
    ),
  );
  return { ms: performance.now() - t0, ok: results.filter(Boolean).length };
}

// Preloaded into the profiled run: counts the TLS secure contexts built (one per new TLS connection
// when an extra CA is passed as `connect.ca`) and the time spent building them.
// syncBuiltinESMExports: the bundle imports it by name, which would otherwise keep the original.
const TLS_COUNTER = `import tls from 'node:tls';
import { syncBuiltinESMExports } from 'node:module';
let n = 0, ms = 0;
const orig = tls.createSecureContext;
tls.createSecureContext = function (...args) { const t = performance.now(); try { return orig.apply(this, args); } finally { n++; ms += performance.now() - t; } };
syncBuiltinESMExports();
process.on('exit', () => process.stderr.write(JSON.stringify({ msg: 'bench:tls', time: Date.now(), contexts: n, ms }) + '\\n'));
`;

interface LogEvent {
  time: number;
  msg: string;
  ms?: number;
  url?: string;
  contexts?: number;
}

/** One certvault run with debug logs and a CPU profile: milestones from spawn, and CPU by cause. */
async function profile(stack: Stack, storeRoot: string): Promise<string[]> {
  const profDir = tempDir('cpuprof');
  const counter = join(profDir, 'tls-counter.mjs');
  writeFileSync(counter, TLS_COUNTER);
  const env = { ...base, CERTVAULT_STORE: `file:${storeRoot}`, CERTVAULT_ACME_CA_CERT: stack.acmeCaFile };
  const d = `${stack.bind.unique()}.example.test`;
  const spawnedAt = Date.now();
  const r = await timed(
    process.execPath,
    [
      '--import',
      counter,
      '--cpu-prof',
      '--cpu-prof-dir',
      profDir,
      CLI,
      'issue',
      '-d',
      `*.${d}`,
      '-d',
      d,
      '--dns',
      'local',
      '--log-level',
      'debug',
      '--log-format',
      'json',
    ],
    env,
  );
  const events = r.out.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as LogEvent];
    } catch {
      return [];
    }
  });
  // Milestones are the CLI's own log messages; a step missing from the log shows as "-".
  const at = (test: (e: LogEvent) => boolean) => events.find(test)?.time;
  const msg = (re: RegExp) => at((e) => re.test(e.msg));
  const marks: [string, number | undefined][] = [
    ['node start-up, module loading, store opened', msg(/^store opened/)],
    [
      'account loaded, ACME client created, `GET /dir` (first TLS connection)',
      at((e) => e.msg === 'acme http' && /\/dir$/.test(e.url ?? '')),
    ],
    ['nonce, new order, 2 authorizations', msg(/^publishing/)],
    ['DNS UPDATE + propagation check on BIND', msg(/^asking the CA/)],
    ['2 challenges answered, authorizations polled until valid', msg(/^rfc2136: remove/)],
    ['records removed, order ready, key + CSR + journal', msg(/^finalizing/)],
    ['finalize + order poll', msg(/^downloading/)],
    ['download, check, store, exit', spawnedAt + r.ms],
  ];
  const lines = [
    `| step (one \`certvault issue\` with debug logs and \`--cpu-prof\`: ${sec(r.ms)} wall) | ms |`,
    '|---|---:|',
  ];
  let prev = spawnedAt;
  for (const [label, t] of marks) {
    lines.push(`| ${label} | ${t === undefined ? '-' : Math.round(t - prev)} |`);
    if (t !== undefined) prev = t;
  }
  const http = events.filter((e) => e.msg === 'acme http');
  const tls = events.find((e) => e.msg === 'bench:tls');
  lines.push(
    '',
    `ACME HTTP requests: ${http.length}, ${Math.round(http.reduce((s, e) => s + (e.ms ?? 0), 0))} ms summed; ` +
      `TLS secure contexts built: ${tls?.contexts ?? '?'}, ${Math.round(tls?.ms ?? 0)} ms.`,
  );

  // CPU time by cause, from V8 self-time samples.
  // The profile is written during exit; give a slow disk a moment before giving up on it.
  let file: string | undefined;
  for (let i = 0; i < 20 && !file; i++) {
    file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) await new Promise((r) => setTimeout(r, 100));
  }
  if (!file) lines.push('', '(no CPU profile was written for that run)');
  else {
    type Node = { id: number; callFrame: CallFrame };
    const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
      nodes: Node[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const causes: [string, RegExp][] = [
      ['TLS secure context (Pebble CA)', /tls\/secure-context/],
      [
        'module resolution, reading and compilation',
        /internal\/modules|cjs-module-lexer|internalModuleStat|readFileUtf8|bootstrap\/realm|internal\/url/,
      ],
      ["Node's bundled undici (global fetch)", /internal\/deps\/undici/],
      ['dependency code (node_modules)', /node_modules/],
      ['certvault code', /\/(src|dist)\//],
      ['garbage collector', /^\(garbage collector\)$/],
      ['idle (waiting on network, DNS)', /^\(idle\)$/],
    ];
    const buckets = new Map<string, number>();
    p.samples.forEach((id, i) => {
      const frame = byId.get(id)!.callFrame;
      const { functionName } = frame;
      const url = sourceOf(frame);
      const k =
        causes.find(([, re]) => re.test(url || functionName))?.[0] ?? 'other (node internals, program)';
      buckets.set(k, (buckets.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
    });
    lines.push('', '| CPU profile of that run, by cause | ms |', '|---|---:|');
    for (const [k, v] of [...buckets].sort((a, b) => b[1] - a[1])) lines.push(`| ${k} | ${Math.round(v)} |`);
  }

  // Baselines: a bare node, the CLI doing nothing, and the cost of importing single dependencies.
  const wall = async (args: string[]) => {
    const xs: number[] = [];
    for (let i = 0; i < 3; i++) xs.push((await timed(process.execPath, args, base)).ms);
    return Math.round(median(xs));
  };
  const bare = await wall(['-e', '0']);
  const imports: string[] = [];
  for (const m of ['commander', 'pino', 'zod', 'jose', 'undici', '@peculiar/x509']) {
    const pre = m === '@peculiar/x509' ? "await import('reflect-metadata');" : '';
    imports.push(
      `${m} +${(await wall(['--input-type=module', '-e', `${pre} await import('${m}');`])) - bare}`,
    );
  }
  lines.push(
    '',
    `Baselines (median of 3): \`node -e 0\` ${bare} ms; \`certvault --version\` ${await wall([CLI, '--version'])} ms; ` +
      `importing one dependency alone, ms over a bare node: ${imports.join(', ')}.`,
  );
  return lines;
}

async function main(): Promise<string> {
  const load0 = loadavg()[0]!;
  const stack = await startStack(); // Pebble with PEBBLE_VA_NOSLEEP=1 and no authz reuse (the harness defaults)
  const vault = await startVaultEmulator();
  const stop = async () => {
    vault.stop();
    await stack.stop();
    for (const d of [...dirs, stack.dir]) rmSync(d, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    const storeRoot = tempDir('store');
    const contenders: Contender[] = [];
    if (ONLY.has('certvault')) contenders.push(...(await certvaultContenders(stack, vault, storeRoot)));
    if (ONLY.has('certbot') && has('certbot')) contenders.push(...(await certbotContenders(stack)));
    if (ONLY.has('lego') && has('lego')) contenders.push(...(await legoContenders(stack)));
    const rows: Row[] = [];
    // Fast configurations first (interleaved, after their warm-ups); the 60-s defaults last, and optional.
    const isDefault = (c: Contender) => c.settings.startsWith('defaults');
    rows.push(
      ...(await measure(
        contenders.filter((c) => !isDefault(c)),
        stack,
      )),
    );
    if (!opt['skip-defaults']) rows.push(...(await measure(contenders.filter(isDefault), stack)));

    const bulkRows: string[] = [];
    if (ONLY.has('certvault') && BULK > 0) {
      process.env.VAULT_TOKEN = vault.token; // the in-process Vault store reads the token from the environment
      process.env.VAULT_ADDR = vault.addr;
      for (const [label, spec] of [
        ['local store', `file:${storeRoot}`],
        ['Vault emulator', 'vault'],
      ] as const) {
        for (const limit of [4, 8]) {
          const b = await bulk(spec, limit, stack);
          process.stderr.write(`  bulk ${label} x${limit}: ${b.ok}/${BULK} in ${sec(b.ms)}\n`);
          bulkRows.push(
            `| ${label} | ${limit} | ${b.ok}/${BULK} | ${sec(b.ms)} | ${((b.ok * 1000) / b.ms).toFixed(1)} |`,
          );
        }
      }
    }
    const prof = ONLY.has('certvault') ? await profile(stack, storeRoot) : [];

    const fastestPeer = Math.min(
      ...rows.filter((r) => r.client !== 'certvault' && r.ms.length === RUNS).map((r) => median(r.ms)),
    );
    const out = [
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ` +
        `load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (the machine was shared); Node ${process.version}, ` +
        `certbot ${version('certbot')} (+ python3-certbot-dns-rfc2136 ${version('python3-certbot-dns-rfc2136')}), lego ${version('lego')}, ` +
        `pebble ${version('pebble')}, BIND ${version('bind9')}. ${RUNS} timed runs per row, interleaved across rows, after an untimed warm-up issuance per client; ` +
        'each run issues one ECDSA P-256 certificate for `*.<fresh>.example.test` + `<fresh>.example.test`.',
      '',
      '| client | settings | median | min | max | ok | median ÷ fastest peer |',
      '|---|---|---:|---:|---:|---:|---:|',
      ...rows.map((r) =>
        r.ms.length === 0
          ? `| ${r.client} | ${r.settings} | - | - | - | 0/${RUNS} | - |`
          : `| ${r.client} | ${r.settings} | ${sec(median(r.ms))} | ${sec(Math.min(...r.ms))} | ${sec(Math.max(...r.ms))} | ${r.ms.length}/${RUNS} | ${Number.isFinite(fastestPeer) ? (median(r.ms) / fastestPeer).toFixed(2) : '-'} |`,
      ),
      ...rows.flatMap((r) =>
        r.failures.map((f) => `\nFailure (${r.client}, ${r.settings}): \`${f.slice(0, 300)}\``),
      ),
    ];
    if (bulkRows.length) {
      out.push(
        '',
        `${BULK} certificates (same name shape) through \`issue()\` from \`src/core/issue.ts\` in one process, \`mapLimit\` concurrency:`,
        '',
        '| store | concurrency | issued | wall | certificates/s |',
        '|---|---:|---:|---:|---:|',
        ...bulkRows,
      );
    }
    if (prof.length) out.push('', ...prof);
    return out.join('\n');
  } finally {
    await stop();
  }
}

const START = '<!-- bench:issue:start (generated by `npm run bench:issue -- --write`) -->';
const END = '<!-- bench:issue:end -->';
const result = await main();
console.log(result);
if (opt.write) {
  // Only the generated block of the Issuance section changes; other sections are left as they are.
  const path = 'docs/benchmarks.md';
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path}: markers for the generated block not found`);
  writeFileSync(path, `${doc.slice(0, a + START.length)}\n${result}\n${doc.slice(b)}`);
  console.error(`updated ${path}`);
}
