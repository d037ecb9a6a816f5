import { z } from 'zod';
import { configError, errorText, operationError } from '../../errors.js';
import { silentLogger, type Logger } from '../../ops/log.js';
import { KeyedMutex } from '../mutex.js';
import { isInZone, nameAndParents, normalizeName } from '../names.js';
import type { DnsProvider, ProviderDefinition, ProviderOptions } from '../provider.js';
import { DNSIMPLE_DEFAULT_BASE_URL, dnsimpleSpec } from '../specs.js';
import { integerSetting, optionalText, requiredText, zoneSetting } from './settings.js';

/** DNSimple API v2: record-level, so each value is its own record with an id. */

const isHttpUrl = (v: string | undefined): boolean => {
  if (v === undefined) return true;
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
};

const schema = z
  .object({
    token: requiredText('an API token'),
    // Optional: an account token names its account through GET /v2/whoami (the seed stores only the token).
    account: optionalText('a numeric account id').refine((v) => v === undefined || /^\d+$/.test(v), {
      error: 'must be the numeric account id (shown in the DNSimple account URL)',
    }),
    'base-url': optionalText('a URL').refine(isHttpUrl, {
      error: 'must be an http(s) URL such as https://api.dnsimple.com',
    }),
    zone: zoneSetting,
    ttl: integerSetting(60, 86400),
  })
  .strict();

type Settings = z.output<typeof schema>;

export const dnsimpleDefinition: ProviderDefinition<Settings> = {
  spec: dnsimpleSpec,
  schema,
  create(s, opts) {
    return new DnsimpleProvider(s, opts);
  },
};

interface ZoneRecord {
  id: number;
  name: string;
  content: string;
  type: string;
}

interface Page<T> {
  data: T[];
  pagination?: { current_page: number; total_pages: number };
}

class DnsimpleProvider implements DnsProvider {
  readonly type = 'dnsimple';
  private readonly log: Logger;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly base: string;
  private readonly zones = new Map<string, string>();
  private readonly lock = new KeyedMutex();
  private accountId: Promise<string> | undefined;

  constructor(
    private readonly s: Settings,
    opts: ProviderOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.base = (s['base-url'] ?? DNSIMPLE_DEFAULT_BASE_URL).replace(/\/+$/, '');
  }

  present(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    const name = normalizeName(fqdn);
    return this.lock.run(name, async () => {
      if (values.length === 0) return;
      const zone = await this.zoneOf(name, signal);
      const rel = relativeName(name, zone);
      const have = new Set((await this.listTxt(zone, rel, signal)).map((r) => txtContent(r.content)));
      for (const value of new Set(values)) {
        if (have.has(value)) continue;
        await this.request('POST', `/zones/${zone}/records`, signal, {
          name: rel,
          type: 'TXT',
          content: value,
          ttl: this.s.ttl ?? 60,
        });
      }
      this.log.info({ name, zone, values: values.length }, 'dnsimple: TXT values present');
    });
  }

  cleanup(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    const name = normalizeName(fqdn);
    return this.lock.run(name, async () => {
      if (values.length === 0) return;
      const zone = await this.zoneOf(name, signal);
      const wanted = new Set(values);
      const ours = (await this.listTxt(zone, relativeName(name, zone), signal)).filter((r) =>
        wanted.has(txtContent(r.content)),
      );
      for (const record of ours) {
        // 404: someone removed it meanwhile, which is what we want.
        await this.request('DELETE', `/zones/${zone}/records/${record.id}`, signal, undefined, [404]);
      }
      this.log.info({ name, zone, removed: ours.length }, 'dnsimple: TXT values removed');
    });
  }

  private async zoneOf(name: string, signal?: AbortSignal): Promise<string> {
    if (this.s.zone !== undefined) {
      const zone = normalizeName(this.s.zone);
      if (!isInZone(name, zone))
        throw configError(`${name} is not in zone ${zone}`, 'set zone= to the zone that contains the name');
      return zone;
    }
    const cached = this.zones.get(name);
    if (cached) return cached;
    for (const candidate of nameAndParents(name)) {
      const res = await this.request('GET', `/zones/${candidate}`, signal, undefined, [404]);
      if (res.status === 200) {
        this.zones.set(name, candidate);
        return candidate;
      }
    }
    throw configError(
      `no zone in DNSimple account ${await this.account(signal)} contains ${name}`,
      'check account= and that the token can see the zone, or set zone=',
    );
  }

  private async listTxt(zone: string, rel: string, signal?: AbortSignal): Promise<ZoneRecord[]> {
    const out: ZoneRecord[] = [];
    for (let page = 1; ; page++) {
      const query = new URLSearchParams({ name: rel, type: 'TXT', page: String(page), per_page: '100' });
      const res = (await this.request('GET', `/zones/${zone}/records?${query}`, signal))
        .data as Page<ZoneRecord>;
      if (!Array.isArray(res?.data)) throw operationError('DNSimple returned an unexpected record list');
      // The name filter is exact, but check anyway: deleting someone else's record would be bad.
      out.push(...res.data.filter((r) => r.type === 'TXT' && r.name === rel));
      if (!res.pagination || page >= res.pagination.total_pages) return out;
    }
  }

  /** The account id: configured, or discovered once with whoami. */
  private account(signal?: AbortSignal): Promise<string> {
    if (this.s.account !== undefined) return Promise.resolve(this.s.account);
    this.accountId ??= this.whoami(signal).catch((err: unknown) => {
      this.accountId = undefined; // a failed look-up is retried by the next call
      throw err;
    });
    return this.accountId;
  }

  private async whoami(signal?: AbortSignal): Promise<string> {
    const res = await this.send('GET', '/v2/whoami', '(whoami)', signal);
    const id = (res.data as { data?: { account?: { id?: unknown } | null } } | undefined)?.data?.account?.id;
    if (typeof id !== 'number' && typeof id !== 'string') {
      throw configError(
        'the DNSimple token is not an account token (whoami names no account)',
        'set account= to the numeric account id',
      );
    }
    return String(id);
  }

  /** One API call below the account; statuses in `allow` are returned instead of thrown. */
  private async request(
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    body?: unknown,
    allow: number[] = [],
  ): Promise<{ status: number; data: unknown }> {
    const account = await this.account(signal);
    return this.send(method, `/v2/${account}${path}`, account, signal, body, allow);
  }

  private async send(
    method: string,
    apiPath: string,
    account: string,
    signal: AbortSignal | undefined,
    body?: unknown,
    allow: number[] = [],
  ): Promise<{ status: number; data: unknown }> {
    const url = `${this.base}${apiPath}`;
    const what = `DNSimple ${method} ${apiPath.replace(/^\/v2\/\d+/, '').replace(/\?.*$/, '')}`;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.s.token}`,
          Accept: 'application/json',
          'User-Agent': 'certvault',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      signal?.throwIfAborted();
      if (timeout.aborted) throw operationError(`${what} timed out after ${this.timeoutMs} ms`);
      throw operationError(
        `${what} failed: ${errorText(err)}`,
        `check base-url (${this.base}) and the network`,
      );
    }
    const text = await res.text();
    if (allow.includes(res.status)) return { status: res.status, data: undefined };
    if (res.status === 401) {
      throw configError(`DNSimple rejected the API token (401) for account ${account}`, 'check token=');
    }
    if (!res.ok) {
      throw operationError(`${what} failed: HTTP ${res.status}${apiMessage(text)}`);
    }
    if (text === '') return { status: res.status, data: undefined };
    try {
      return { status: res.status, data: JSON.parse(text) as unknown };
    } catch {
      throw operationError(`${what} returned a non-JSON body (HTTP ${res.status})`);
    }
  }
}

function relativeName(name: string, zone: string): string {
  return name === zone ? '' : name.slice(0, name.length - zone.length - 1);
}

function apiMessage(text: string): string {
  try {
    const msg = (JSON.parse(text) as { message?: unknown }).message;
    return typeof msg === 'string' ? `: ${msg.replace(/\s+/g, ' ').slice(0, 200)}` : '';
  } catch {
    return '';
  }
}

/** DNSimple stores TXT content quoted ("a" "b"); older records may be raw. Returns the joined value. */
export function txtContent(content: string): string {
  const trimmed = content.trim();
  if (!trimmed.startsWith('"')) return content;
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) parts.push(m[1]!.replace(/\\(.)/g, '$1'));
  return parts.join('');
}
