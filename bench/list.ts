// npm run bench:list -- [--certs 10000] [--runs 5] [--write]
//
// `certvault list --json` over 10,000 certificates in Vault (the emulator, test/support/
// vault-emulator-main.ts --stats, in its own process), wall clock spawn → exit, median of --runs after
// one untimed warm-up. Counts the Vault requests of each run by kind from the emulator's request log
// and fails if any run read a certificate's data (listing must use the summary index and metadata
// only). One run of `list --no-index` (per-certificate metadata) must give the same rows. Then a breakdown:
// Node start-up alone, the same command on an empty store, server time, CLI CPU time and a CPU
// profile by category. `--write` replaces the generated block in docs/benchmarks.md.
import { parseArgs } from 'node:util';
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
    runs: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
  },
});
const N = Number(opt.certs);
const RUNS = Number(opt.runs);
const TARGET_MS = 3000;
const CERT_DATA = `GET secret/data/${PREFIX}/certificates`;

const machine = machineLine();
const emu = await startEmulatorProcess();
try {
  const store = storeFor(emu);
  const pems = await benchCertificates(4);
  console.error(`filling ${N} certificates (+ renewal state) into ${emu.addr} ...`);
  const fillMs = await fillStore(store, N, pems);
  console.error(`filled in ${sec(fillMs)}`);
  const env = { VAULT_ADDR: emu.addr, VAULT_TOKEN: emu.token };

  const warm = await timeCli(['list', '--json'], env);
  if (warm.code !== 0) throw new Error(`list failed: ${warm.stderr}`);
  const runs: Array<{
    ms: number;
    cpuS?: number | undefined;
    maxRssMb?: number | undefined;
    stats: EmulatorStats;
  }> = [];
  let lastStdout = '';
  for (let i = 0; i < RUNS; i++) {
    await emu.reset();
    const r = await timeCli(['list', '--json'], env);
    const stats = await emu.stats();
    if (r.code !== 0) throw new Error(`list failed: ${r.stderr}`);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; notAfter: string | null }>;
    if (rows.length !== N) throw new Error(`list returned ${rows.length} rows, expected ${N}`);
    if (rows.some((row) => !row.name || !row.notAfter)) throw new Error('a row lacks its name or expiry');
    if (stats.folders[CERT_DATA])
      throw new Error(`list read certificate data ${stats.folders[CERT_DATA]} times`);
    runs.push({ ms: r.ms, cpuS: r.cpuS, maxRssMb: r.maxRssMb, stats });
    lastStdout = r.stdout;
    console.error(
      `run ${i + 1}: ${sec(r.ms)}, ${stats.total} Vault requests, CLI CPU ${r.cpuS?.toFixed(2)} s`,
    );
  }
  const wall = median(runs.map((r) => r.ms));
  const last = runs[runs.length - 1]!.stats;

  // Breakdown: what the same process costs without the 10,000 certificates.
  const startup: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < 5; i++) {
    startup.push((await timeCli(['--version'], env)).ms);
    empty.push((await timeCli(['list', '--json'], { ...env, CERTVAULT_VAULT_PREFIX: 'bench-empty' })).ms);
  }
  // The fallback: every certificate read from its own metadata, as for names the index lacks.
  await emu.reset();
  const direct = await timeCli(['list', '--json', '--no-index'], env);
  if (direct.code !== 0) throw new Error(`list --no-index failed: ${direct.stderr}`);
  const key = (out: string) =>
    (JSON.parse(out) as Array<{ name: string; notAfter: string; version: number }>)
      .map((r) => `${r.name} ${r.notAfter} ${r.version}`)
      .join('\n');
  if (key(direct.stdout) !== key(lastStdout)) throw new Error('list --no-index differs from list');
  const directStats = await emu.stats();
  const serverMs = median(runs.map((r) => r.stats.serverMs));
  const cpuS = median(runs.map((r) => r.cpuS ?? NaN));
  const rss = median(runs.map((r) => r.maxRssMb ?? NaN));
  const prof = await profileCli(['list', '--json'], env);
  const profTotal = prof.summary.reduce((a, [, ms]) => a + ms, 0);

  const lines: string[] = [];
  lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`);
  lines.push('');
  lines.push(`| what | result |`);
  lines.push(`|---|---|`);
  lines.push(
    `| certificates | ${N} (${pems.length} distinct PEMs, each with custom metadata and a renewal state), stored in ${sec(fillMs)} |`,
  );
  lines.push(`| certvault | ${codeVersion()} |`);
  lines.push(
    `| \`certvault list --json\`, wall clock | **${sec(wall)}** median of ${RUNS} (${runs.map((r) => sec(r.ms)).join(', ')}); target < ${sec(TARGET_MS)}: ${wall < TARGET_MS ? 'met' : '**missed**'} |`,
  );
  lines.push(`| Vault requests per run | ${last.total} (${(last.total / N).toFixed(4)} per certificate) |`);
  lines.push(`| certificate \`data/\` reads | ${last.folders[CERT_DATA] ?? 0} in every run (checked) |`);
  lines.push(
    `| without the summary index (\`list --json --no-index\`: one metadata read per certificate, same rows) | ${sec(direct.ms)}, ${directStats.total} requests |`,
  );
  lines.push(`| CLI CPU time (user + sys), peak RSS | ${cpuS.toFixed(2)} s, ${rss.toFixed(0)} MB |`);
  lines.push(
    `| emulator CPU time; time answering (sum over requests, 32 in flight) | ${sec(median(runs.map((r) => r.stats.cpuMs)))}; ${sec(serverMs)} |`,
  );
  lines.push(`| Node start-up + CLI modules (\`--version\`) | ${sec(median(startup))} |`);
  lines.push(`| same command on an empty prefix (start-up, mount check, one LIST) | ${sec(median(empty))} |`);
  lines.push('');
  lines.push('Requests of one run, by kind (method and folder):');
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
  const md = lines.join('\n');
  console.log(md);
  if (opt.write) writeGenerated('list', md);
} finally {
  emu.stop();
}
