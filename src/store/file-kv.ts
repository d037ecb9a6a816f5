import { mkdir, open, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CasConflictError } from '../vault/errors.js';
import type { Kv, KvEntry, KvMetadata } from '../vault/kv.js';
import { writeFileAtomic } from '../util/atomic-file.js';

interface FileRecord {
  version: number;
  data: Record<string, unknown>;
  custom_metadata: Record<string, string>;
}

const SUFFIX = '.json';
const LOCK_STALE_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The embedded local store: the same KV shape as Vault's KV v2 (versions, check-and-set, custom
 * metadata) on a directory. Folders 0700, files 0600, every write is write-then-rename so a reader
 * never sees half a file; check-and-set holds a short lock file so two processes cannot both win.
 */
export class FileKv implements Kv {
  readonly version = 2 as const;
  readonly mount: string;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.mount = this.root;
  }

  private file(path: string): string {
    const parts = path.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new Error(`invalid store path "${path}"`);
    return join(this.root, ...parts) + SUFFIX;
  }

  private async load(path: string): Promise<FileRecord | null> {
    try {
      return JSON.parse(await readFile(this.file(path), 'utf8')) as FileRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async read(path: string): Promise<KvEntry | null> {
    const rec = await this.load(path);
    return rec ? { data: rec.data, version: rec.version, customMetadata: rec.custom_metadata } : null;
  }

  async readMetadata(path: string): Promise<KvMetadata | null> {
    const rec = await this.load(path);
    return rec ? { currentVersion: rec.version, customMetadata: rec.custom_metadata, deleted: false } : null;
  }

  async write(path: string, data: Record<string, unknown>, opts: { cas?: number } = {}): Promise<number> {
    return this.locked(path, async () => {
      const cur = await this.load(path);
      const current = cur?.version ?? 0;
      if (opts.cas !== undefined && opts.cas !== current) throw new CasConflictError(path);
      const next: FileRecord = { version: current + 1, data, custom_metadata: cur?.custom_metadata ?? {} };
      await this.atomicWrite(path, next);
      return next.version;
    });
  }

  async writeCustomMetadata(path: string, custom: Record<string, string>): Promise<void> {
    await this.locked(path, async () => {
      const cur = await this.load(path);
      await this.atomicWrite(path, {
        version: cur?.version ?? 0,
        data: cur?.data ?? {},
        custom_metadata: custom,
      });
    });
  }

  async list(folder: string): Promise<string[]> {
    const dir =
      folder.replace(/\/+$/, '') === ''
        ? this.root
        : join(this.root, ...folder.replace(/\/+$/, '').split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code === 'ENOENT' ||
        (err as NodeJS.ErrnoException).code === 'ENOTDIR'
      )
        return [];
      throw err;
    }
    const keys = entries.flatMap((e) => {
      if (e.name.startsWith('.')) return [];
      if (e.isDirectory()) return [`${e.name}/`];
      return e.name.endsWith(SUFFIX) ? [e.name.slice(0, -SUFFIX.length)] : [];
    });
    return keys.sort();
  }

  async destroy(path: string): Promise<void> {
    await rm(this.file(path), { force: true });
  }

  private async atomicWrite(path: string, rec: FileRecord): Promise<void> {
    const target = this.file(path);
    await this.ensureDir(dirname(target));
    await writeFileAtomic(target, JSON.stringify(rec), { mode: 0o600 });
  }

  private async ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  /** Serialises writers of one key across processes with an O_EXCL lock file; stale locks expire. */
  private async locked<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const lock = join(dirname(this.file(path)), `.${path.split('/').pop()}.lock`);
    await this.ensureDir(dirname(lock));
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(lock, 'wx', 0o600);
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > LOCK_STALE_MS) await rm(lock, { force: true });
        else await sleep(Math.min(5 + attempt * 5, 50));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}

/** Makes sure a store root exists and is private before first use. */
export async function prepareRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  await writeFile(join(root, '.certvault'), 'certvault local store\n', { mode: 0o600, flag: 'w' });
}
