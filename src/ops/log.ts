import { pino, type Logger } from 'pino';

export type { Logger };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'text' | 'json';

/** Field names that may hold secrets anywhere in a log object; pino replaces their values. */
const REDACT = [
  'token',
  'secret',
  'password',
  'privkey',
  'key',
  'hmacKey',
  'tsigSecret',
  '*.token',
  '*.secret',
  '*.password',
  '*.privkey',
  '*.key',
  '*.hmacKey',
  '*.tsigSecret',
  'headers["x-vault-token"]',
  'headers.authorization',
];

/**
 * Logs go to stderr so that stdout stays clean for command output and `--json`.
 * Text format is one short line per event for people; json is pino's line format for machines.
 */
export function createLogger(level: LogLevel = 'warn', format: LogFormat = 'text'): Logger {
  const redact = { paths: REDACT, censor: '[redacted]' };
  if (format === 'json') return pino({ level, redact, base: { name: 'certvault' } }, pino.destination(2));
  return pino(
    {
      level,
      redact,
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    textStream(),
  );
}

function textStream(): { write(line: string): void } {
  return {
    write(line: string) {
      const { level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      process.stderr.write(`${String(level)}: ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`);
    },
  };
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
