import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertvaultError } from '../src/errors.js';
import { createDnsProvider } from '../src/dns/provider.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certvault-exec-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = (file: string) =>
  `printf '%s|%s|%s|%s\\n' "$CERTVAULT_DNS_ACTION" "$CERTVAULT_DNS_NAME" "$CERTVAULT_DNS_VALUE" "$CERTVAULT_DNS_VALUES" >> ${file}`;

describe('exec provider', () => {
  it('runs add and remove once per name with the documented environment', async () => {
    const log = join(dir, 'calls.log');
    const p = createDnsProvider('exec', { add: record(log), remove: record(log) });
    await p.present('_acme-challenge.Example.COM.', ['first', 'second', 'first']);
    await p.cleanup('_acme-challenge.example.com', ['second']);
    await p.present('_acme-challenge.example.com', []);
    assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n'), [
      'add|_acme-challenge.example.com|first|first second',
      'remove|_acme-challenge.example.com|second|second',
    ]);
  });

  it('non-zero exit: exit code and the last stderr line', async () => {
    const p = createDnsProvider('exec', {
      add: 'echo starting >&2; echo "api said: quota exceeded" >&2; exit 3',
      remove: 'true',
    });
    await assert.rejects(p.present('_acme-challenge.example.com', ['v']), (err: CertvaultError) => {
      assert.equal(err.exitCode, 1);
      assert.equal(err.line, 'exec DNS add command exited with code 3: api said: quota exceeded');
      return true;
    });
  });

  it('kills a command that runs past the timeout, with what it started', async () => {
    const marker = join(dir, 'late');
    const p = createDnsProvider('exec', {
      add: `(sleep 2; touch ${marker}) & sleep 5`,
      remove: 'true',
      timeout: '1',
    });
    const started = Date.now();
    await assert.rejects(
      p.present('_acme-challenge.example.com', ['v']),
      /exec DNS add command timed out after 1 s/,
    );
    assert.ok(Date.now() - started < 2000);
    await new Promise((r) => setTimeout(r, 1500));
    await assert.rejects(readFile(marker), { code: 'ENOENT' });
  });

  it('stops when aborted', async () => {
    const p = createDnsProvider('exec', { add: 'sleep 5', remove: 'true' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('cancelled by test')), 100);
    await assert.rejects(p.present('_acme-challenge.example.com', ['v'], ac.signal), /cancelled by test/);
  });
});
