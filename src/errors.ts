/**
 * One error type for the whole tool. `exitCode` 2 = the user must change input or configuration,
 * 1 = an operation failed. Messages are one line, name what failed and say how to fix it, and never
 * carry secrets: callers pass only names, paths and addresses.
 */
export type ErrorKind = 'usage' | 'config' | 'operation';

export class CertvaultError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertvaultError';
    this.kind = kind;
    this.hint = options.hint;
  }

  get exitCode(): 1 | 2 {
    return this.kind === 'operation' ? 1 : 2;
  }

  /** The single line shown to the user. */
  get line(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }
}

export const usageError = (message: string, hint?: string): CertvaultError =>
  new CertvaultError('usage', message, hint === undefined ? {} : { hint });
export const configError = (message: string, hint?: string): CertvaultError =>
  new CertvaultError('config', message, hint === undefined ? {} : { hint });
export const operationError = (message: string, hint?: string, cause?: unknown): CertvaultError =>
  new CertvaultError('operation', message, { ...(hint === undefined ? {} : { hint }), cause });

/** Text of an unknown thrown value, for wrapping; never includes stack or request bodies. */
export function errorText(err: unknown): string {
  if (err instanceof CertvaultError) return err.line;
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (cause as { code?: string } | undefined)?.code ?? (err as { code?: string }).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
