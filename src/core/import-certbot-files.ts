import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { configError, usageError } from '../errors.js';

/**
 * Reading a Certbot configuration directory (e.g. /etc/letsencrypt), read-only:
 *   accounts/<host[:port]>/<directory path>/<id>/{meta,private_key,regr}.json
 *   renewal/<name>.conf                     configobj INI: top-level paths, [renewalparams]
 *   live/<name>/{cert,chain,fullchain,privkey}.pem   symlinks into archive/
 */

export interface CertbotAccount {
  id: string;
  /** Certbot's account folder name for the server: host[:port] + directory path, e.g. `acme-v02.api.letsencrypt.org/directory`. */
  serverPath: string;
  regr: unknown;
  privateKey: unknown;
  meta: unknown;
}

export interface CertbotLineage {
  name: string;
  /** `renewal/<name>.conf`, relative to the directory (for messages). */
  conf: string;
  top: Record<string, string>;
  params: Record<string, string>;
  files?: { cert: string; chain: string; fullchain: string; privkey: string };
  /** Why `files` is missing. */
  filesError?: string;
}

export interface CertbotDir {
  dir: string;
  accounts: CertbotAccount[];
  lineages: CertbotLineage[];
}

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'error';

export async function readCertbotDir(dir: string): Promise<CertbotDir> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await readdir(dir);
  } catch (err) {
    throw usageError(
      `cannot read the Certbot directory ${dir} (${code(err)})`,
      'give the Certbot config dir, e.g. /etc/letsencrypt, as a user that can read it',
    );
  }
  return { dir, accounts: await readAccounts(dir), lineages: await readLineages(dir) };
}

async function listDir(path: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (err) {
    if (code(err) === 'ENOENT') return [];
    throw configError(
      `cannot read ${path} (${code(err)})`,
      'run as a user that can read the Certbot directory',
    );
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError(
      `cannot read ${path} (${code(err)})`,
      'run as a user that can read the Certbot directory',
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw configError(`${path} is not JSON`, 'it should be a file Certbot wrote');
  }
}

/** Account folders are found by their regr.json; symlinked folders (Certbot's v1→v2 aliases) are not followed. */
async function readAccounts(dir: string): Promise<CertbotAccount[]> {
  const root = join(dir, 'accounts');
  const out: CertbotAccount[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    const entries = await listDir(folder);
    if (entries.some((e) => e.isFile() && e.name === 'regr.json')) {
      const parent = relative(root, join(folder, '..')).split(sep).join('/');
      out.push({
        id: basename(folder),
        serverPath: parent,
        regr: await readJson(join(folder, 'regr.json')),
        privateKey: await readJson(join(folder, 'private_key.json')),
        meta: await readJson(join(folder, 'meta.json')).catch(() => ({})),
      });
      return;
    }
    if (depth >= 8) return;
    for (const e of entries) if (e.isDirectory()) await walk(join(folder, e.name), depth + 1);
  };
  await walk(root, 0);
  return out.sort((a, b) => a.serverPath.localeCompare(b.serverPath) || a.id.localeCompare(b.id));
}

async function readLineages(dir: string): Promise<CertbotLineage[]> {
  const out: CertbotLineage[] = [];
  const confs = (await listDir(join(dir, 'renewal'))).filter((e) => e.isFile() && e.name.endsWith('.conf'));
  for (const e of confs.sort((a, b) => a.name.localeCompare(b.name))) {
    const conf = `renewal/${e.name}`;
    let text: string;
    try {
      text = await readFile(join(dir, conf), 'utf8');
    } catch (err) {
      throw configError(
        `cannot read ${join(dir, conf)} (${code(err)})`,
        'run as a user that can read the Certbot directory',
      );
    }
    const parsed = parseConfigObj(text);
    const lineage: CertbotLineage = {
      name: e.name.slice(0, -'.conf'.length),
      conf,
      top: parsed.top,
      params: parsed.sections.renewalparams ?? {},
    };
    try {
      const live = join(dir, 'live', lineage.name);
      const read = (f: string) => readFile(join(live, `${f}.pem`), 'utf8');
      lineage.files = {
        cert: await read('cert'),
        chain: await read('chain'),
        fullchain: await read('fullchain'),
        privkey: await read('privkey'),
      };
    } catch (err) {
      lineage.filesError = `cannot read live/${lineage.name}/*.pem (${code(err)})`;
    }
    out.push(lineage);
  }
  return out;
}

/**
 * The subset of configobj syntax Certbot writes: `key = value`, `# comments`, `[section]`; keys of
 * nested `[[sub]]` sections (e.g. webroot_map) are dropped. Values are taken after the first "=",
 * so base64 secrets ending in "=" survive.
 */
export function parseConfigObj(text: string): {
  top: Record<string, string>;
  sections: Record<string, Record<string, string>>;
} {
  const top: Record<string, string> = {};
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | null = top;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^(\[+)\s*([^\]]+?)\s*\]+$/.exec(line);
    if (section) {
      current = section[1] === '[' ? (sections[section[2]!] ??= {}) : null;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || current === null) continue;
    current[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim());
  }
  return { top, sections };
}

function unquote(v: string): string {
  const q = /^(["'])(.*)\1$/.exec(v);
  return q ? q[2]! : v.replace(/\s+#.*$/, '');
}

/**
 * A credentials INI named in a renewal conf. The path is absolute on the machine Certbot ran on; when
 * it lies in Certbot's own config_dir (as the seed's /etc/letsencrypt/dnsimple.ini does), the copy
 * inside the directory being imported is read first.
 */
export async function readCredentials(
  ref: string,
  dir: string,
  configDir: string | undefined,
): Promise<{ path: string; values: Record<string, string> } | { error: string }> {
  const candidates: string[] = [];
  if (configDir && ref.startsWith(`${configDir.replace(/\/+$/, '')}/`))
    candidates.push(join(dir, ref.slice(configDir.replace(/\/+$/, '').length + 1)));
  candidates.push(ref);
  let last = 'ENOENT';
  for (const path of candidates) {
    try {
      return { path, values: parseConfigObj(await readFile(path, 'utf8')).top };
    } catch (err) {
      last = code(err);
    }
  }
  return { error: `cannot read the credentials file ${ref} (${last})` };
}
