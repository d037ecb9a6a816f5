// npm run demo: certvault end to end in one command, on 127.0.0.1 only.
//
// Starts a throw-away ACME CA (Pebble) and DNS server (BIND 9, TSIG-signed dynamic updates) on free
// loopback ports, then runs the real CLI step by step, echoing each command as a user would type it.
// State goes to a temp dir, or to your Vault under the prefix `certvault-demo` when VAULT_ADDR is set.
// Everything started here is stopped, and temp dirs removed, on success, failure and Ctrl-C alike.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../test/support/cli.js';
import { setupCommands, startStack, type Stack } from '../test/support/stack.js';

const PACKAGES = ['pebble', 'bind9', 'bind9-dnsutils'];
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
const [bold, dim, cyan, red] = [paint(1), paint(2), paint(36), paint(31)];

const onPath = (bin: string) =>
  spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const namedInstalled = () => {
  try {
    accessSync('/usr/sbin/named', constants.X_OK); // the path test/support/bind.ts starts
    return true;
  } catch {
    return false;
  }
};

/** Pebble and BIND come from Debian; install them only where that is clearly possible (root + apt). */
function ensureServers(): void {
  if (onPath('pebble') && namedInstalled()) return;
  const install = `apt-get install -y ${PACKAGES.join(' ')}`;
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    console.log(dim(`pebble or named is missing; installing: apt-get update && ${install}`));
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...PACKAGES], { stdio: 'inherit', env });
    return;
  }
  console.error(`certvault demo needs Pebble and BIND 9. Install them first:\n\n  sudo ${install}\n`);
  process.exit(2);
}

let child: ReturnType<typeof spawn> | undefined;

/** Runs the built CLI with the terminal attached, after echoing the command line. */
function certvault(env: NodeJS.ProcessEnv, args: string[], shown = args): Promise<number> {
  console.log(`\n${cyan('$')} ${bold(['certvault', ...shown].join(' '))}`);
  return new Promise((resolve) => {
    child = spawn(process.execPath, [CLI, ...args], { env, stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

/** Same, silently: for a question the demo asks itself (does a previous demo's certificate exist?). */
const quietly = (env: NodeJS.ProcessEnv, args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { env, stdio: 'ignore' }).status;

async function main(): Promise<number> {
  if (!existsSync(CLI)) {
    console.error(
      'certvault demo: dist/ is missing; run `npm run demo` (it builds first) or `npm run build`',
    );
    return 2;
  }
  ensureServers();
  const started = Date.now();
  const useVault = Boolean(process.env.VAULT_ADDR);
  const work = mkdtempSync(join(tmpdir(), 'certvault-demo-'));
  let stack: Stack | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await stack?.stop();
      rmSync(work, { recursive: true, force: true });
      if (stack) rmSync(stack.dir, { recursive: true, force: true });
    })());
  // Ctrl-C reaches the CLI too (same process group): it cancels and removes its TXT records; we wait
  // for it, then stop the servers. A second Ctrl-C is left to the CLI's own "exit now".
  let cancelled = false;
  const interrupted = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      cancelled = true;
      console.error(red(`\n${sig}: stopping the demo servers…`));
      const done = () => void stop().finally(() => resolve(130));
      if (child && child.exitCode === null && child.signalCode === null) child.once('close', done);
      else done();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  const run = async (): Promise<number> => {
    process.stdout.write(dim('starting Pebble (test ACME CA) and BIND 9 on 127.0.0.1… '));
    stack = await startStack();
    console.log(dim('ready'));
    const bind = stack.bind;
    const store = useVault ? 'vault' : `file:${join(work, 'store')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env, // PATH, HOME and, with Vault, the user's VAULT_* settings
      CERTVAULT_STORE: store,
      ...(useVault ? { CERTVAULT_VAULT_PREFIX: 'certvault-demo' } : {}),
      TSIG_SECRET: bind.keys.sha256.secret, // BIND's TSIG key reaches the CLI only through the environment
    };

    console.log(
      `\n${dim('# The shell the steps below run in (the TSIG secret stays in the environment, never on a command line):')}`,
    );
    console.log(
      `${cyan('$')} export CERTVAULT_STORE=${store}${useVault ? ` CERTVAULT_VAULT_PREFIX=certvault-demo   ${dim(`# your Vault at ${process.env.VAULT_ADDR}`)}` : ''}`,
    );
    console.log(
      `${cyan('$')} export PEBBLE_CA=${stack.acmeCaFile}   ${dim("# Pebble's HTTPS CA, trusted for ACME only")}`,
    );
    console.log(
      `${cyan('$')} export TSIG_SECRET=…   ${dim(`# secret of TSIG key ${bind.keys.sha256.name} (not shown)`)}`,
    );

    const ca = ['--acme-ca-cert', stack.acmeCaFile];
    const caShown = ['--acme-ca-cert', '"$PEBBLE_CA"'];
    const name = `demo.${bind.zones.example}`;
    const { register, dnsSet: dns } = setupCommands(stack, { email: 'demo@example.test', dnsName: 'local' });
    // A Vault outlives the demo: a certificate from an earlier run is replaced rather than refused.
    const force = useVault && quietly(env, ['show', name]) === 0 ? ['--force'] : [];
    const issue = ['issue', '-d', `*.${name}`, '-d', name, '--dns', 'local', ...force];
    const steps: [string[], string[]][] = [
      [
        [...register, ...ca],
        [...register, ...caShown],
      ],
      [dns, dns],
      [
        [...issue, ...ca],
        [...issue.map((a) => (a.startsWith('*') ? `'${a}'` : a)), ...caShown],
      ],
      [['list'], ['list']],
      [
        ['show', name],
        ['show', name],
      ],
    ];
    for (const [args, shown] of steps) {
      const code = await certvault(env, args, shown);
      if (code !== 0) {
        if (cancelled) return code;
        console.error(
          red(`\ncertvault demo: \`certvault ${shown.slice(0, 2).join(' ')}\` failed (exit ${code})`),
        );
        return code;
      }
    }
    const kept = useVault
      ? `state kept in your Vault under the prefix certvault-demo`
      : 'removed the temp store';
    console.log(
      `\n${bold('done')} in ${((Date.now() - started) / 1000).toFixed(1)} s ${dim(`(stopped Pebble and BIND, ${kept})`)}`,
    );
    return 0;
  };

  try {
    return await Promise.race([run(), interrupted]);
  } catch (err) {
    console.error(
      red(`\ncertvault demo: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`),
    );
    return 1;
  } finally {
    await stop();
  }
}

// exit() rather than exitCode: after a Ctrl-C during start-up nothing else may keep the process alive
// (the support helpers kill their servers on exit).
process.exit(await main());
