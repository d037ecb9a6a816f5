/** Terminal output helpers: plain tables, colour only on a TTY (and never with NO_COLOR). */
const useColor = (): boolean =>
  Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

const paint = (code: number) => (s: string) => (useColor() ? `\u001b[${code}m${s}\u001b[0m` : s);
export const red = paint(31);
export const yellow = paint(33);
export const green = paint(32);
export const dim = paint(2);
export const bold = paint(1);

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c))))
      .join('  ')
      .trimEnd();
  return [bold(line(headers)), ...rows.map(line)].join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Whole days from now until `date` (negative once past). */
export function daysLeft(date: Date, now = Date.now()): number {
  return Math.floor((date.getTime() - now) / 86_400_000);
}

export function colourDays(days: number): string {
  const s = String(days);
  return days < 7 ? red(s) : days < 21 ? yellow(s) : green(s);
}

/** Short UTC timestamp for tables: 2026-12-01 10:00Z. */
export function shortTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** Progress for long steps: a line per step on a terminal, an info log otherwise. */
export function progressReporter(json: boolean, log: (msg: string) => void): (message: string) => void {
  if (process.stderr.isTTY && !json) {
    const started = Date.now();
    return (m) => process.stderr.write(`${dim(`[${((Date.now() - started) / 1000).toFixed(1)}s]`)} ${m}\n`);
  }
  return log;
}

/**
 * An AbortSignal fired by the first Ctrl-C (or SIGTERM), so the work stops waiting and cleans up
 * (e.g. removes challenge records); a second Ctrl-C exits at once.
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) process.exit(130);
    process.stderr.write(`certvault: ${sig}: cancelling and cleaning up (press Ctrl-C again to exit now)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
