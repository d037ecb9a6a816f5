import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` so that a reader sees the old file or the new one, never part of one: a hidden
 * temporary file in the same folder (same file system) gets the content, the mode (whatever the
 * umask) and the owner, is synced, then renamed over `path`. On failure it is removed and the error
 * thrown as is, for the caller to explain.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Buffer,
  opts: { mode: number; owner?: { uid: number; gid: number } | undefined },
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', opts.mode);
    try {
      await fh.writeFile(content);
      await fh.chmod(opts.mode);
      if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
