// npm run bench:renew -- [--certs 10000] [--runs 3] [--due 100] [--concurrency 4,8] [--skip-idle] [--skip-due] [--write]
//
// (a) Nothing due: --certs certificates in Vault (the emulator in its own process), each with a
//     renewal state holding a fresh ARI answer for that certificate (Retry-After ahead, window 30
//     days ahead), so `certvault renew --json` decides everything from the store. Wall clock spawn →
//     exit, median of --runs after an untimed warm-up; Vault requests by kind from the emulator's log.
//     Checks: every outcome is not-due, no write, no certificate data read.
// (b) Due: Pebble + BIND 9 + the emulator on 127.0.0.1 (test/support/stack.ts). --due certificates are
//     issued first with the core API, then `certvault renew --force --json --concurrency N` renews them
//     all, once per N in --concurrency: certificates per second.
// `--write` replaces the generated block in docs/benchmarks.md.
import { parseArgs } from 'node:util';
import { issue } from '../src/core/issue.js';
import { silentLogger } from '../src/ops/log.js';
import { mapLimit } from '../src/util/map-limit.js';
import { setupCommands, startStack } from '../test/support/stack.js';
import {
  PREFIX,
  benchCertificates,
  codeVersion,
  fillStore,
  machineLine,
  median,
  profileCli,
  sec,
  startEmulatorProcess,
  storeFor,
  timeCli,
  writeGenerated,
  type EmulatorStats,
} from './vault-bench.js';

const { values: opt } = parseArgs({
  options: {
    certs: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    due: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4,8' },
    'skip-idle': { type: 'boolean', default: false },
    'skip-due': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(opt.certs);
const RUNS = Number(opt.runs);
const DUE = Number(opt.due);
const CONCURRENCY = opt.concurrency.split(',').map(Number);

interface Entry {
  name: string;
  outcome: string;
}

const lines: string[] = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machineLine()}; certvault ${codeVersion()}.`,
  '',
];

async function idle(): Promise<void> {
  const emu = await startEmulatorProcess();
  try {
    const store = storeFor(emu);
    console.error(`(a) filling ${N} certificates with cached ARI state into ${emu.addr} ...`);
    const fillMs = await fillStore(store, N, await benchCertificates(4));
    console.error(`filled in ${sec(fillMs)}`);
    const env = { VAULT_ADDR: emu.addr, VAULT_TOKEN: emu.token };
    const warm = await timeCli(['renew', '--json'], env);
    if (warm.code !== 0) throw new Error(`renew failed (${warm.code}): ${warm.stderr}`);
    const runs: Array<{
      ms: number;
      cpuS?: number | undefined;
      maxRssMb?: number | undefined;
      stats: EmulatorStats;
    }> = [];
    for (let i = 0; i < RUNS; i++) {
      await emu.reset();
      const r = await timeCli(['renew', '--json'], env);
      const stats = await emu.stats();
      if (r.code !== 0) throw new Error(`renew failed (${r.code}): ${r.stderr}`);
      const entries = JSON.parse(r.stdout) as Entry[];
      if (entries.length !== N || entries.some((e) => e.outcome !== 'not-due'))
        throw new Error('expected every certificate not-due');
      const writes = Object.entries(stats.folders).filter(([k]) => /^(POST|PUT|PATCH|DELETE) /.test(k));
      if (writes.length) throw new Error(`a not-due run wrote: ${JSON.stringify(writes)}`);
      if (stats.folders[`GET secret/data/${PREFIX}/certificates`])
        throw new Error('a not-due run read certificate data');
      runs.push({ ms: r.ms, cpuS: r.cpuS, maxRssMb: r.maxRssMb, stats });
      console.error(
        `run ${i + 1}: ${sec(r.ms)}, ${stats.total} Vault requests, CLI CPU ${r.cpuS?.toFixed(2)} s`,
      );
    }
    const wall = median(runs.map((r) => r.ms));
    const last = runs[runs.length - 1]!.stats;
    // Per-certificate requests: everything but the LISTs, the mount check and the token lookup.
    const perCert = Object.entries(last.folders)
      .filter(([k]) => !/^LIST |^\S+ (sys|auth)\//.test(k))
      .reduce((a, [, n]) => a + n, 0);
    const prof = await profileCli(['renew', '--json'], env);
    const profTotal = prof.summary.reduce((a, [, ms]) => a + ms, 0);
    lines.push('### Nothing due');
    lines.push('');
    lines.push('| what | result |');
    lines.push('|---|---|');
    lines.push(
      `| certificates | ${N}, each with a renewal state holding a fresh ARI answer (stored in ${sec(fillMs)}) |`,
    );
    lines.push(
      `| \`certvault renew --json\`, wall clock | **${sec(wall)}** median of ${RUNS} (${runs.map((r) => sec(r.ms)).join(', ')}); target < 5 s: ${wall < 5000 ? 'met' : '**missed**'} |`,
    );
    lines.push(
      `| Vault requests per run | ${last.total}: ${(perCert / N).toFixed(2)} per certificate + ${last.total - perCert} per run; target ≤ 2 per certificate: ${perCert / N <= 2 ? 'met' : '**missed**'} |`,
    );
    lines.push(
      '| writes, certificate `data/` reads, ACME requests | none (checked; the ACME server is not even contacted) |',
    );
    lines.push(
      `| CLI CPU time (user + sys), peak RSS | ${median(runs.map((r) => r.cpuS ?? NaN)).toFixed(2)} s, ${median(runs.map((r) => r.maxRssMb ?? NaN)).toFixed(0)} MB |`,
    );
    lines.push(
      `| emulator CPU time; time answering (sum over requests) | ${sec(median(runs.map((r) => r.stats.cpuMs)))}; ${sec(median(runs.map((r) => r.stats.serverMs)))} |`,
    );
    lines.push('');
    lines.push('| request | count |');
    lines.push('|---|---|');
    for (const [k, n] of Object.entries(last.folders).sort((a, b) => b[1] - a[1]))
      lines.push(`| \`${k}\` | ${n} |`);
    lines.push('');
    lines.push(
      `CPU profile of one run (\`--cpu-prof\`, ${sec(prof.run.ms)} wall under the profiler), self time by category:`,
    );
    lines.push('');
    lines.push('| category | ms | share |');
    lines.push('|---|---|---|');
    for (const [cat, ms] of prof.summary)
      lines.push(`| ${cat} | ${ms.toFixed(0)} | ${((ms / profTotal) * 100).toFixed(0)}% |`);
    lines.push('');
  } finally {
    emu.stop();
  }
}

async function due(): Promise<void> {
  const stack = await startStack();
  const emu = await startEmulatorProcess();
  try {
    const store = storeFor(emu);
    const env = {
      VAULT_ADDR: emu.addr,
      VAULT_TOKEN: emu.token,
      CERTVAULT_ACME_CA_CERT: stack.acmeCaFile,
      TSIG_SECRET: stack.bind.keys.sha256.secret,
    };
    const { register, dnsSet } = setupCommands(stack, { email: 'bench@example.test' });
    for (const setup of [register, dnsSet]) {
      const r = await timeCli(setup, env);
      if (r.code !== 0) throw new Error(`certvault ${setup.slice(0, 2).join(' ')}: ${r.stderr}`);
    }
    const names = Array.from({ length: DUE }, () => `${stack.bind.unique()}.example.test`);
    console.error(`(b) issuing ${DUE} certificates with the core API (4 at a time) ...`);
    const t0 = performance.now();
    await mapLimit(names, 4, (d) =>
      issue(
        store,
        {
          domains: [d],
          dns: 'bind',
          keyType: 'ecdsa-p256',
          reuseKey: false,
          force: false,
          propagationTimeoutMs: 60_000,
          timeoutMs: 120_000,
        },
        { caCertPem: stack.pebble.caCertPem, logger: silentLogger, progress: () => undefined },
      ),
    );
    const issueMs = performance.now() - t0;
    console.error(`issued in ${sec(issueMs)}`);
    lines.push('### Due: `renew --force` on Pebble + BIND 9');
    lines.push('');
    lines.push(
      `${DUE} certificates (one name each, ECDSA P-256, DNS-01 through BIND with TSIG, Pebble with \`PEBBLE_VA_NOSLEEP=1\` and no authorization reuse), issued first with the core API (4 at a time: ${sec(issueMs)}). Each row is one \`certvault renew --force --json --concurrency N\` over all of them (spawn → exit); every certificate must come back \`renewed\`.`,
    );
    lines.push('');
    lines.push(
      '| concurrency | wall clock | certificates / s | Vault requests per certificate | orders at Pebble |',
    );
    lines.push('|---|---|---|---|---|');
    for (const c of CONCURRENCY) {
      await emu.reset();
      const orders = stack.pebble.countOrders();
      const r = await timeCli(['renew', '--force', '--json', '--concurrency', String(c)], env);
      const stats = await emu.stats();
      if (r.code !== 0) throw new Error(`renew --force failed (${r.code}): ${r.stderr.slice(-2000)}`);
      const entries = JSON.parse(r.stdout) as Entry[];
      const renewed = entries.filter((e) => e.outcome === 'renewed').length;
      if (renewed !== DUE) throw new Error(`${renewed} of ${DUE} renewed: ${r.stdout.slice(0, 2000)}`);
      const newOrders = stack.pebble.countOrders() - orders;
      console.error(`concurrency ${c}: ${sec(r.ms)}, ${(DUE / (r.ms / 1000)).toFixed(2)} certificates/s`);
      lines.push(
        `| ${c} | ${sec(r.ms)} | **${(DUE / (r.ms / 1000)).toFixed(2)}** | ${(stats.total / DUE).toFixed(1)} | ${newOrders} |`,
      );
    }
    lines.push('');
  } finally {
    emu.stop();
    await stack.stop();
  }
}

if (!opt['skip-idle']) await idle();
if (!opt['skip-due']) await due();
const md = lines.join('\n');
console.log(md);
if (opt.write) writeGenerated('renew', md);
