#!/usr/bin/env node
import { CertvaultError, errorText } from '../errors.js';
import { buildProgram, CommanderError } from './program.js';

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with a CommanderError too; everything else is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CertvaultError) {
      process.stderr.write(`certvault: error: ${err.line}\n`);
      return err.exitCode;
    }
    process.stderr.write(`certvault: internal error: ${errorText(err)}\n`);
    if (process.env.CERTVAULT_DEBUG) console.error(err);
    return 1;
  }
}

// `certvault --help | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv);
