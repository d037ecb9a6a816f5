// KV secrets engine version 2 (versioned), with the status codes and messages of vault-plugin-secrets-kv.
import { ignoredWarning, parseFields, type Schema } from './fields.js';
import {
  fail,
  nothing,
  ok,
  raw,
  respond,
  type Engine,
  type LogicalRequest,
  type Operation,
  type Outcome,
} from './types.js';
import {
  byteCompare,
  childKeys,
  formatTime,
  goDuration,
  goQuote,
  isObject,
  mergePatch,
  multiError,
  NS_PER_S,
  parseDuration,
  type JsonObject,
} from './util.js';

interface VersionMeta {
  created: bigint;
  deletion: bigint | null;
  destroyed: boolean;
  /** JSON text of the version's data; null once destroyed. */
  data: string | null;
}

interface KeyMeta {
  versions: Map<number, VersionMeta>;
  current: number;
  oldest: number;
  maxVersions: number;
  casRequired: boolean;
  dva: bigint | null;
  custom: Record<string, string> | null;
  created: bigint | null;
  updated: bigint | null;
}

export interface KvV2Options {
  maxVersions?: number;
  casRequired?: boolean;
  /** Go duration or seconds; negative disables delete_version_after for all keys. */
  deleteVersionAfter?: string | number;
}

const DISABLED = -NS_PER_S;
const DEFAULT_MAX_VERSIONS = 10;
const ROOT_WARNING = 'Non-listing operations on the root of a K/V v2 mount are not supported.';
const CM_PREFIX = 'custom_metadata validation failed';

const DATA_SCHEMA: Schema = { path: 'string', version: 'int', options: 'map', data: 'map' };
const META_SCHEMA: Schema = {
  path: 'string',
  cas_required: 'bool',
  max_versions: 'int',
  delete_version_after: 'duration',
  custom_metadata: 'map',
};
const CONFIG_SCHEMA: Schema = { max_versions: 'int', cas_required: 'bool', delete_version_after: 'duration' };
const VERSIONS_SCHEMA: Schema = { path: 'string', versions: 'intSlice' };
const SUBKEYS_SCHEMA: Schema = { path: 'string', version: 'int', depth: 'int' };

type Fields = Map<string, unknown>;
type Route = {
  schema: Schema;
  ops: Operation[];
  run: (req: LogicalRequest, f: Fields, key: string) => Outcome;
};

const unsupported = (): Outcome => ({
  kind: 'error',
  status: 405,
  messages: [multiError('unsupported operation')],
});
const toSeconds = (ns: bigint): bigint => (ns / NS_PER_S) * NS_PER_S;
const printable = (s: string): boolean => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u.test(s);

export class KvV2Engine implements Engine {
  maxVersions: number;
  casRequired: boolean;
  dva: bigint | null;
  readonly keys = new Map<string, KeyMeta>();

  constructor(
    private readonly cli: 'vault' | 'bao',
    opts: KvV2Options = {},
  ) {
    this.maxVersions = opts.maxVersions ?? 0;
    this.casRequired = opts.casRequired ?? false;
    const d = opts.deleteVersionAfter === undefined ? 0n : parseDuration(opts.deleteVersionAfter);
    this.dva = d < 0n ? DISABLED : d === 0n ? null : toSeconds(d);
  }

  exists(path: string): boolean | undefined {
    const m = /^data\/(.*[^/])$/.exec(path) ?? /^metadata\/(.*)$/.exec(path);
    return m ? this.keys.has(m[1] ?? '') : undefined;
  }

  handle(req: LogicalRequest): Outcome {
    const [route, key] = this.route(req.path);
    if (!route) return this.invalid(req);
    if (!route.ops.includes(req.op)) return unsupported();
    const parsed = parseFields(req.data, route.schema);
    if ('error' in parsed) return { kind: 'error', status: 400, messages: [multiError(parsed.error)] };
    const out = route.run(req, parsed.fields, key);
    const warn = ignoredWarning(parsed.unknown);
    if (out.kind === 'resp' && out.resp && warn.length > 0) {
      out.resp.warnings = [...(out.resp.warnings ?? []), ...warn];
    }
    return out;
  }

  private route(path: string): [Route | undefined, string] {
    let m: RegExpExecArray | null;
    if (path === 'config') {
      return [{ schema: CONFIG_SCHEMA, ops: ['read', 'update'], run: (r, f) => this.config(r, f) }, ''];
    }
    if ((m = /^data\/(.*[^/])$/.exec(path))) {
      return [
        {
          schema: DATA_SCHEMA,
          ops: ['read', 'create', 'update', 'patch', 'delete'],
          run: (r, f, k) => this.data(r, f, k),
        },
        m[1] ?? '',
      ];
    }
    if ((m = /^metadata\/(.*)$/.exec(path))) {
      return [
        {
          schema: META_SCHEMA,
          ops: ['read', 'list', 'create', 'update', 'patch', 'delete'],
          run: (r, f, k) => this.metadata(r, f, k),
        },
        m[1] ?? '',
      ];
    }
    if ((m = /^(delete|undelete|destroy)\/(.*)$/.exec(path))) {
      const kind = m[1] as 'delete' | 'undelete' | 'destroy';
      return [
        { schema: VERSIONS_SCHEMA, ops: ['update'], run: (r, f, k) => this.versionsOp(kind, r, f, k) },
        m[2] ?? '',
      ];
    }
    if ((m = /^subkeys\/(.*)$/.exec(path))) {
      return [{ schema: SUBKEYS_SCHEMA, ops: ['read'], run: (r, f, k) => this.subkeys(r, f, k) }, m[1] ?? ''];
    }
    return [undefined, ''];
  }

  // ---- catch-all ("pathInvalid") ----

  private invalid(req: LogicalRequest): Outcome {
    if (req.op === 'header') return unsupported();
    if (['metadata', 'data', 'delete', 'undelete', 'destroy'].includes(req.path)) {
      return raw(404, { data: null, warnings: [ROOT_WARNING] });
    }
    const sub = { create: 'put', update: 'put', patch: 'patch', read: 'get', list: 'list', delete: 'delete' }[
      req.op as 'read'
    ];
    const product = this.cli === 'bao' ? 'OpenBao' : 'Vault';
    const warning =
      'Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. ' +
      `If using the ${product} CLI, use '${this.cli} kv ${sub}' for this operation.`;
    return raw(404, { data: null, warnings: [warning] });
  }

  // ---- config ----

  private config(req: LogicalRequest, f: Fields): Outcome {
    if (req.op === 'read') {
      return ok({
        cas_required: this.casRequired,
        delete_version_after: goDuration(this.dva ?? 0n),
        max_versions: this.maxVersions,
      });
    }
    if (!f.has('max_versions') && !f.has('cas_required') && !f.has('delete_version_after')) return nothing();
    if (f.has('max_versions')) this.maxVersions = f.get('max_versions') as number;
    if (f.has('cas_required')) this.casRequired = f.get('cas_required') as boolean;
    if (f.has('delete_version_after')) {
      const d = toSeconds(f.get('delete_version_after') as bigint);
      this.dva = d < 0n ? DISABLED : d === 0n ? null : d;
    }
    return nothing();
  }

  // ---- helpers ----

  private deleted(vm: VersionMeta, now: bigint): boolean {
    return vm.deletion !== null && vm.deletion < now;
  }

  private versionFields(meta: KeyMeta, n: number, vm: VersionMeta): JsonObject {
    return {
      created_time: formatTime(vm.created),
      custom_metadata: meta.custom,
      deletion_time: formatTime(vm.deletion),
      destroyed: vm.destroyed,
      version: n,
    };
  }

  /** Minimum non-zero of mount and key delete_version_after, added to `from`. */
  private deletionTime(meta: KeyMeta, from: bigint): bigint | null {
    if (this.dva === DISABLED) return null;
    const mount = this.dva ?? 0n;
    const key = meta.dva ?? 0n;
    if (mount === 0n && key === 0n) return null;
    let min = key;
    if ((mount !== 0n && mount < min) || min === 0n) min = mount;
    return from + min;
  }

  private checkCas(f: Fields, meta: KeyMeta): string | null {
    const options = f.get('options');
    if (isObject(options) && 'cas' in options) {
      const c = options.cas;
      let cas: number;
      if (typeof c === 'number') cas = Math.trunc(c);
      else if (typeof c === 'string' && /^[+-]?\d+$/.test(c.trim())) cas = Number.parseInt(c, 10);
      else if (typeof c === 'boolean') cas = c ? 1 : 0;
      else if (c === null || c === '') cas = 0;
      else return 'error parsing check-and-set parameter';
      if (cas !== meta.current) return 'check-and-set parameter did not match the current version';
    } else if (this.casRequired || meta.casRequired) {
      return 'check-and-set parameter required for this call';
    }
    return null;
  }

  private addVersion(meta: KeyMeta, data: string, now: bigint): VersionMeta {
    const vm: VersionMeta = { created: now, deletion: this.deletionTime(meta, now), destroyed: false, data };
    meta.current += 1;
    meta.versions.set(meta.current, vm);
    meta.updated = now;
    meta.created ??= now;
    const max = Math.max(meta.maxVersions, this.maxVersions) || DEFAULT_MAX_VERSIONS;
    if (meta.current - meta.oldest >= max) {
      const last = meta.current - max;
      for (let i = meta.oldest; i <= last; i++) meta.versions.delete(i);
      meta.oldest = last + 1;
    }
    return vm;
  }

  private newMeta(): KeyMeta {
    return {
      versions: new Map(),
      current: 0,
      oldest: 0,
      maxVersions: 0,
      casRequired: false,
      dva: null,
      custom: null,
      created: null,
      updated: null,
    };
  }

  // ---- data/ ----

  private data(req: LogicalRequest, f: Fields, key: string): Outcome {
    switch (req.op) {
      case 'read':
        return this.dataRead(req, f, key);
      case 'create':
      case 'update':
        return this.dataWrite(req, f, key);
      case 'patch':
        return this.dataPatch(req, f, key);
      default:
        return this.dataDelete(req, key);
    }
  }

  private dataRead(req: LogicalRequest, f: Fields, key: string): Outcome {
    const meta = this.keys.get(key);
    if (!meta) return nothing();
    const asked = (f.get('version') as number | undefined) ?? 0;
    const n = asked > 0 ? asked : meta.current;
    const vm = meta.versions.get(n);
    if (!vm) return nothing();
    const body: JsonObject = { data: null, metadata: this.versionFields(meta, n, vm) };
    if (this.deleted(vm, req.now) || vm.destroyed) return raw(404, { data: body });
    body.data = JSON.parse(vm.data ?? 'null') as unknown;
    return ok(body);
  }

  private dataWrite(req: LogicalRequest, f: Fields, key: string): Outcome {
    if (!f.has('data')) return fail('no data provided');
    const meta = this.keys.get(key) ?? this.newMeta();
    const casError = this.checkCas(f, meta);
    if (casError) return fail(casError);
    const vm = this.addVersion(meta, JSON.stringify(f.get('data')), req.now);
    this.keys.set(key, meta);
    return ok(this.versionFields(meta, meta.current, vm));
  }

  private dataPatch(req: LogicalRequest, f: Fields, key: string): Outcome {
    if (!f.has('data')) return fail('no data provided');
    const meta = this.keys.get(key);
    if (!meta) return raw(404, null);
    const casError = this.checkCas(f, meta);
    if (casError) return fail(casError);
    const cur = meta.versions.get(meta.current);
    if (!cur) return raw(404, null);
    if (this.deleted(cur, req.now) || cur.destroyed) {
      return raw(404, { data: this.versionFields(meta, meta.current, cur) });
    }
    const patched = mergePatch(JSON.parse(cur.data ?? '{}') as unknown, f.get('data') ?? {});
    const vm = this.addVersion(meta, JSON.stringify(patched), req.now);
    return ok(this.versionFields(meta, meta.current, vm));
  }

  private dataDelete(req: LogicalRequest, key: string): Outcome {
    const meta = this.keys.get(key);
    const lv = meta?.versions.get(meta.current);
    if (!lv || lv.destroyed || this.deleted(lv, req.now)) return nothing();
    lv.deletion = req.now;
    return nothing();
  }

  // ---- metadata/ ----

  private metadata(req: LogicalRequest, f: Fields, key: string): Outcome {
    switch (req.op) {
      case 'read':
        return this.metadataRead(key);
      case 'list':
        return this.list(key);
      case 'create':
      case 'update':
        return this.metadataWrite(req, f, key);
      case 'patch':
        return this.metadataPatch(f, key);
      default:
        this.keys.delete(key);
        return nothing();
    }
  }

  private metadataRead(key: string): Outcome {
    const meta = this.keys.get(key);
    if (!meta) return nothing();
    const versions: JsonObject = {};
    for (const [n, vm] of meta.versions) {
      versions[String(n)] = {
        created_time: formatTime(vm.created),
        deletion_time: formatTime(vm.deletion),
        destroyed: vm.destroyed,
      };
    }
    return ok({
      cas_required: meta.casRequired,
      created_time: formatTime(meta.created),
      current_version: meta.current,
      custom_metadata: meta.custom,
      delete_version_after: goDuration(meta.dva ?? 0n),
      max_versions: meta.maxVersions,
      oldest_version: meta.oldest,
      updated_time: formatTime(meta.updated),
      versions,
    });
  }

  private list(prefix: string): Outcome {
    return ok({ keys: childKeys(this.keys.keys(), prefix) });
  }

  /** Converts and validates custom_metadata the way the engine does (values coerced to strings). */
  private customMetadata(rawMap: JsonObject, dropNulls: boolean): Record<string, string | null> | string {
    const out: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(rawMap)) {
      if (v === null && dropNulls) {
        out[k] = null;
        continue;
      }
      if (typeof v === 'string') out[k] = v;
      else if (typeof v === 'number') out[k] = String(v);
      else if (typeof v === 'boolean') out[k] = v ? '1' : '0';
      else if (v === null) out[k] = '';
      else
        return `${CM_PREFIX}: '' expected type 'string', got unconvertible type '${Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}'}'`;
    }
    const entries = Object.entries(out).filter((e): e is [string, string] => e[1] !== null);
    if (entries.length > 64) {
      return multiError(`${CM_PREFIX}: payload must contain at most 64 keys, provided ${entries.length}`);
    }
    const errs: string[] = [];
    for (const [k, v] of entries.sort(([a], [b]) => byteCompare(a, b))) {
      const kl = Buffer.byteLength(k);
      const vl = Buffer.byteLength(v);
      if (kl === 0 || kl > 128) {
        errs.push(`${CM_PREFIX}: length of key ${goQuote(k)} is ${kl} but must be 0 < len(key) <= 128`);
      }
      if (vl === 0 || vl > 512) {
        errs.push(
          `${CM_PREFIX}: length of value for key ${goQuote(k)} is ${vl} but must be 0 < len(value) <= 512`,
        );
      }
      if (!printable(k)) errs.push(`${CM_PREFIX}: key ${goQuote(k)} (${k}) contains unprintable characters`);
      if (!printable(v))
        errs.push(`${CM_PREFIX}: value for key ${goQuote(k)} contains unprintable characters`);
    }
    return errs.length > 0 ? multiError(...errs) : out;
  }

  private casWarning(f: Fields): string[] {
    return f.has('cas_required') && this.casRequired && f.get('cas_required') === false
      ? ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.']
      : [];
  }

  private applyMetaFields(meta: KeyMeta, f: Fields): void {
    if (f.has('max_versions')) meta.maxVersions = f.get('max_versions') as number;
    if (f.has('cas_required')) meta.casRequired = f.get('cas_required') as boolean;
    if (f.has('delete_version_after')) meta.dva = toSeconds(f.get('delete_version_after') as bigint);
  }

  private metadataWrite(req: LogicalRequest, f: Fields, key: string): Outcome {
    if (key === '') return fail('missing path');
    const names = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'];
    if (!names.some((n) => f.has(n))) return nothing();
    let custom: Record<string, string> | undefined;
    if (f.has('custom_metadata')) {
      const c = this.customMetadata((f.get('custom_metadata') as JsonObject | null) ?? {}, false);
      if (typeof c === 'string') return fail(c);
      custom = c as Record<string, string>;
    }
    const warnings = this.casWarning(f);
    let meta = this.keys.get(key);
    if (!meta) {
      meta = { ...this.newMeta(), created: req.now, updated: req.now };
      this.keys.set(key, meta);
    }
    this.applyMetaFields(meta, f);
    if (custom) meta.custom = Object.keys(custom).length > 0 ? custom : null;
    return warnings.length > 0 ? respond({ data: null, warnings }) : nothing();
  }

  private metadataPatch(f: Fields, key: string): Outcome {
    if (key === '') return fail('missing path');
    let patch: Record<string, string | null> | null | undefined;
    if (f.has('custom_metadata')) {
      const rawMap = f.get('custom_metadata') as JsonObject | null;
      if (rawMap !== null) {
        const c = this.customMetadata(rawMap, true);
        if (typeof c === 'string') return fail(c);
        patch = c;
      } else patch = null;
    }
    const meta = this.keys.get(key);
    if (!meta) return raw(404, null);
    const warnings = this.casWarning(f);
    this.applyMetaFields(meta, f);
    if (patch === null) meta.custom = null;
    else if (patch) {
      const merged = mergePatch(meta.custom ?? {}, patch) as Record<string, string>;
      meta.custom = Object.keys(merged).length > 0 ? merged : null;
    }
    return warnings.length > 0 ? respond({ data: null, warnings }) : nothing();
  }

  // ---- delete/ undelete/ destroy/ ----

  private versionsOp(
    kind: 'delete' | 'undelete' | 'destroy',
    req: LogicalRequest,
    f: Fields,
    key: string,
  ): Outcome {
    const versions = (f.get('versions') as number[] | undefined) ?? [];
    if (versions.length === 0) {
      return fail(kind === 'destroy' ? 'no version number provided' : 'No version number provided');
    }
    const meta = this.keys.get(key);
    if (!meta) return nothing();
    for (const n of versions) {
      const vm = meta.versions.get(n);
      if (!vm || vm.destroyed) continue;
      if (kind === 'delete') {
        if (!this.deleted(vm, req.now)) vm.deletion = req.now;
      } else if (kind === 'undelete') {
        vm.deletion = this.deletionTime(meta, req.now);
      } else {
        vm.destroyed = true;
        vm.data = null;
      }
    }
    return nothing();
  }

  // ---- subkeys/ ----

  private subkeys(req: LogicalRequest, f: Fields, key: string): Outcome {
    const meta = this.keys.get(key);
    if (!meta) return nothing();
    const asked = (f.get('version') as number | undefined) ?? 0;
    const depth = (f.get('depth') as number | undefined) ?? 0;
    if (depth < 0) return fail('depth must be greater than or equal to 0');
    const n = asked > 0 ? asked : meta.current;
    const vm = meta.versions.get(n);
    if (!vm) return nothing();
    const metadata = this.versionFields(meta, n, vm);
    if (this.deleted(vm, req.now) || vm.destroyed) return raw(404, { data: { subkeys: null, metadata } });
    const walk = (obj: JsonObject, level: number): JsonObject => {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(obj)) {
        const deeper = isObject(v) && Object.keys(v).length > 0 && (depth === 0 || level < depth);
        out[k] = deeper ? walk(v, level + 1) : null;
      }
      return out;
    };
    const data = JSON.parse(vm.data ?? 'null') as unknown;
    return ok({ subkeys: isObject(data) ? walk(data, 1) : null, metadata });
  }
}
