import { configError } from '../errors.js';
import type { VaultClient } from './client.js';
import { CasConflictError, VaultError } from './errors.js';

export type KvVersion = 1 | 2;

export interface KvEntry {
  data: Record<string, unknown>;
  /** KV v2 version of the current data; always 0 on KV v1. */
  version: number;
  customMetadata: Record<string, string>;
}

export interface KvMetadata {
  currentVersion: number;
  customMetadata: Record<string, string>;
  /** True when the current version is soft-deleted or destroyed. */
  deleted: boolean;
}

export interface KvMountInfo {
  /** Mount path without slashes, as Vault reports it (e.g. `secret`). */
  mount: string;
  version: KvVersion;
  type: string;
}

/** Finds the mount and KV version for a path (reference §3.2, the same algorithm as the Vault CLI). */
export async function detectMount(client: VaultClient, path: string): Promise<KvMountInfo> {
  const mountName = path.split('/')[0] ?? path;
  let res;
  try {
    res = await client.request({ method: 'GET', path: `sys/internal/ui/mounts/${path}`, accept: [404] });
  } catch (err) {
    // Vault answers a missing mount and a token with no rights under it alike (no mount enumeration).
    if (!(err instanceof VaultError && err.status === 403 && err.errors.some((e) => e.includes('preflight'))))
      throw err;
    throw new VaultError(`${err.message}: no mount "${mountName}", or the token may not use it`, {
      status: 403,
      path: err.path,
      errors: err.errors,
      hint: `check --vault-mount (default secret; \`vault secrets list\` shows the mounts), or grant the token access under ${mountName}/ (see \`certvault policy\`)`,
    });
  }
  if (res.status === 404) return { mount: mountName, version: 1, type: 'kv' };
  const data =
    (res.body as { data?: { path?: string; type?: string; options?: { version?: string } | null } }).data ??
    {};
  const type = data.type ?? 'kv';
  if (type !== 'kv' && type !== 'generic') {
    throw configError(
      `Vault mount "${data.path ?? path}" is a ${type} engine, not KV`,
      'use --vault-mount to name a KV mount',
    );
  }
  return {
    mount: (data.path ?? path).replace(/\/+$/, ''),
    version: data.options?.version === '2' ? 2 : 1,
    type,
  };
}

/** KV operations in one shape for both engine versions. Paths are relative to the mount. */
export interface Kv {
  readonly mount: string;
  readonly version: KvVersion;
  read(path: string): Promise<KvEntry | null>;
  /** Metadata only (KV v2); never returns secret data. */
  readMetadata(path: string): Promise<KvMetadata | null>;
  /** Writes data; `cas` is the version the caller read (0 = must not exist). Returns the new version. */
  write(path: string, data: Record<string, unknown>, opts?: { cas?: number }): Promise<number>;
  writeCustomMetadata(path: string, custom: Record<string, string>): Promise<void>;
  /** Immediate children; folders end in `/`; empty when nothing is there. */
  list(folder: string): Promise<string[]>;
  /** Removes the key and all its versions. */
  destroy(path: string): Promise<void>;
}

export function kvFor(client: VaultClient, mount: string, version: KvVersion): Kv {
  return version === 2 ? new KvV2(client, mount) : new KvV1(client, mount);
}

const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');

class KvV2 implements Kv {
  readonly version = 2 as const;
  constructor(
    private readonly client: VaultClient,
    readonly mount: string,
  ) {}

  async read(path: string): Promise<KvEntry | null> {
    const res = await this.client.request({
      method: 'GET',
      path: `${this.mount}/data/${enc(path)}`,
      accept: [404],
    });
    if (res.status === 404) {
      if (res.notFound === 'wrong-kv-version' || res.notFound === 'no-route') throw this.mountProblem(path);
      return null; // absent, or current version deleted/destroyed: no usable data either way
    }
    const d = (
      res.body as {
        data: {
          data: Record<string, unknown> | null;
          metadata: { version: number; custom_metadata: Record<string, string> | null };
        };
      }
    ).data;
    if (!d.data) return null;
    return { data: d.data, version: d.metadata.version, customMetadata: d.metadata.custom_metadata ?? {} };
  }

  async readMetadata(path: string): Promise<KvMetadata | null> {
    const res = await this.client.request({
      method: 'GET',
      path: `${this.mount}/metadata/${enc(path)}`,
      accept: [404],
    });
    if (res.status === 404) return null;
    const d = (
      res.body as {
        data: {
          current_version: number;
          custom_metadata: Record<string, string> | null;
          versions: Record<string, { deletion_time: string; destroyed: boolean }>;
        };
      }
    ).data;
    const cur = d.versions[String(d.current_version)];
    const deleted =
      !cur || cur.destroyed || (cur.deletion_time !== '' && Date.parse(cur.deletion_time) <= Date.now());
    return { currentVersion: d.current_version, customMetadata: d.custom_metadata ?? {}, deleted };
  }

  async write(path: string, data: Record<string, unknown>, opts: { cas?: number } = {}): Promise<number> {
    const body: { data: Record<string, unknown>; options?: { cas: number } } = { data };
    if (opts.cas !== undefined) body.options = { cas: opts.cas };
    try {
      const res = await this.client.request({
        method: 'POST',
        path: `${this.mount}/data/${enc(path)}`,
        body,
        accept: [404],
      });
      if (res.status === 404) throw this.mountProblem(path);
      return (res.body as { data: { version: number } }).data.version;
    } catch (err) {
      if (
        err instanceof VaultError &&
        err.status === 400 &&
        err.errors.some((e) => e.includes('check-and-set parameter did not match'))
      ) {
        throw new CasConflictError(`${this.mount}/data/${path}`);
      }
      throw err;
    }
  }

  async writeCustomMetadata(path: string, custom: Record<string, string>): Promise<void> {
    await this.client.request({
      method: 'POST',
      path: `${this.mount}/metadata/${enc(path)}`,
      body: { custom_metadata: custom },
      retry: 'idempotent',
    });
  }

  async list(folder: string): Promise<string[]> {
    const res = await this.client.request({
      method: 'GET',
      path: `${this.mount}/metadata/${enc(folder.replace(/\/+$/, ''))}/`,
      query: { list: 'true' },
      accept: [404],
    });
    if (res.status === 404) return [];
    return (res.body as { data: { keys: string[] } }).data.keys;
  }

  async destroy(path: string): Promise<void> {
    await this.client.request({ method: 'DELETE', path: `${this.mount}/metadata/${enc(path)}` });
  }

  private mountProblem(path: string): VaultError {
    return new VaultError(`no KV v2 engine answers at ${this.mount}/${path}`, {
      status: 404,
      path: `${this.mount}/${path}`,
      usage: true,
      hint: `check --vault-mount (now "${this.mount}") and that it is a KV mount`,
    });
  }
}

/** KV v1 has no versions, CAS or metadata: `cas` is ignored (locks need KV v2; `doctor` says so). */
class KvV1 implements Kv {
  readonly version = 1 as const;
  constructor(
    private readonly client: VaultClient,
    readonly mount: string,
  ) {}

  async read(path: string): Promise<KvEntry | null> {
    const res = await this.client.request({
      method: 'GET',
      path: `${this.mount}/${enc(path)}`,
      accept: [404],
    });
    if (res.status === 404) return null;
    return { data: (res.body as { data: Record<string, unknown> }).data, version: 0, customMetadata: {} };
  }

  async readMetadata(): Promise<KvMetadata | null> {
    return null;
  }

  async write(path: string, data: Record<string, unknown>): Promise<number> {
    await this.client.request({
      method: 'POST',
      path: `${this.mount}/${enc(path)}`,
      body: data,
      retry: 'idempotent',
    });
    return 0;
  }

  async writeCustomMetadata(): Promise<void> {}

  async list(folder: string): Promise<string[]> {
    const res = await this.client.request({
      method: 'GET',
      path: `${this.mount}/${enc(folder.replace(/\/+$/, ''))}/`,
      query: { list: 'true' },
      accept: [404],
    });
    if (res.status === 404) return [];
    return (res.body as { data: { keys: string[] } }).data.keys;
  }

  async destroy(path: string): Promise<void> {
    await this.client.request({ method: 'DELETE', path: `${this.mount}/${enc(path)}` });
  }
}
