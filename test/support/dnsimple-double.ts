import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for DNSimple API v2 (whoami, zones and zone records only), on 127.0.0.1. It checks the
 * documented request shapes (Bearer token, Accept / Content-Type JSON, paths, filters, bodies),
 * keeps records in memory, and answers anything undocumented with an error it also records in
 * `unexpected`, so tests can assert the client never strays. TXT content is stored quoted, as
 * DNSimple has done since late 2023.
 */

export interface DoubleRecord {
  id: number;
  zone_id: string;
  parent_id: null;
  name: string;
  content: string;
  ttl: number;
  priority: null;
  type: string;
  regions: string[];
  system_record: boolean;
  created_at: string;
  updated_at: string;
}

export interface DnsimpleDouble {
  baseUrl: string;
  token: string;
  account: string;
  requests: { method: string; path: string; query: string; body: unknown }[];
  unexpected: string[];
  /** Unquoted TXT values at `name` (relative, '' for the apex) in `zone`. */
  txt(zone: string, name: string): string[];
  addRecord(zone: string, rec: { name: string; type: string; content: string }): DoubleRecord;
  /** Delay every answer (for timeout tests). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

const LIST_PARAMS = new Set(['name', 'name_like', 'type', 'page', 'per_page', 'sort']);
const CREATE_FIELDS = new Set(['name', 'type', 'content', 'ttl', 'priority', 'regions', 'integrated_zones']);

export async function startDnsimpleDouble(opts: {
  token?: string;
  account?: string;
  zones: string[];
}): Promise<DnsimpleDouble> {
  const token = opts.token ?? 'double-token-0123456789';
  const account = opts.account ?? '1010';
  const zones = new Map<string, { id: number; records: Map<number, DoubleRecord> }>();
  let nextId = 1;
  let delay = 0;
  const requests: DnsimpleDouble['requests'] = [];
  const unexpected: string[] = [];
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  const addRecord = (zone: string, rec: { name: string; type: string; content: string; ttl?: number }) => {
    const z = zones.get(zone);
    if (!z) throw new Error(`double has no zone ${zone}`);
    const r: DoubleRecord = {
      id: nextId++,
      zone_id: zone,
      parent_id: null,
      name: rec.name,
      content: rec.type === 'TXT' ? quote(unquote(rec.content)) : rec.content,
      ttl: rec.ttl ?? 3600,
      priority: null,
      type: rec.type,
      regions: ['global'],
      system_record: false,
      created_at: now(),
      updated_at: now(),
    };
    z.records.set(r.id, r);
    return r;
  };
  for (const name of opts.zones) {
    zones.set(name, { id: nextId++, records: new Map() });
    addRecord(name, { name: '', type: 'NS', content: 'ns1.dnsimple.com' });
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://double');
    const raw = await readBody(req);
    const send = (status: number, body?: unknown) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const headers: Record<string, string> =
        body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' };
      setTimeout(() => res.writeHead(status, headers).end(text), delay);
    };
    const reject = (status: number, why: string) => {
      unexpected.push(`${req.method} ${url.pathname}: ${why}`);
      send(status, { message: why });
    };
    let body: unknown;
    if (raw !== '') {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
        return reject(415, 'body without Content-Type: application/json');
      try {
        body = JSON.parse(raw);
      } catch {
        return reject(400, 'body is not JSON');
      }
    }
    requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, body });

    if (req.headers.authorization !== `Bearer ${token}`)
      return send(401, { message: 'Authentication failed' });
    if (!/\bapplication\/json\b/.test(req.headers.accept ?? ''))
      return reject(400, 'missing Accept: application/json');

    // Identity: an account token names its account (user tokens would name a user instead).
    if (url.pathname === '/v2/whoami') {
      if (req.method !== 'GET') return reject(405, `undocumented ${req.method} on whoami`);
      const at = '2020-01-01T00:00:00Z';
      return send(200, {
        data: {
          user: null,
          account: {
            id: Number(account),
            email: 'ops@example.com',
            plan_identifier: 'teams-v1-monthly',
            created_at: at,
            updated_at: at,
          },
        },
      });
    }
    const m = /^\/v2\/([^/]+)\/zones\/([^/]+)(?:\/records(?:\/(\d+))?)?$/.exec(url.pathname);
    const isRecords = url.pathname.includes('/records');
    if (!m) return reject(404, `undocumented path ${url.pathname}`);
    const [, acct, zoneName, recordId] = m as unknown as [string, string, string, string | undefined];
    if (acct !== account) return send(404, { message: `Account \`${acct}\` not found` });
    const zone = zones.get(zoneName);
    if (!zone) return send(404, { message: `Zone \`${zoneName}\` not found` });

    if (!isRecords) {
      if (req.method !== 'GET') return reject(405, `undocumented ${req.method} on a zone`);
      return send(200, {
        data: {
          id: zone.id,
          account_id: Number(account),
          name: zoneName,
          reverse: false,
          created_at: now(),
          updated_at: now(),
        },
      });
    }
    if (recordId === undefined && req.method === 'GET') {
      for (const key of url.searchParams.keys())
        if (!LIST_PARAMS.has(key)) return reject(400, `undocumented filter ${key}`);
      const q = url.searchParams;
      const perPage = Number(q.get('per_page') ?? 30);
      const page = Number(q.get('page') ?? 1);
      if (!(perPage >= 1 && perPage <= 100) || !(page >= 1)) return reject(400, 'bad page or per_page');
      const all = [...zone.records.values()].filter(
        (r) =>
          (!q.has('name') || r.name === q.get('name')) &&
          (!q.has('name_like') || r.name.includes(q.get('name_like') ?? '')) &&
          (!q.has('type') || r.type === q.get('type')),
      );
      const totalPages = Math.max(1, Math.ceil(all.length / perPage));
      return send(200, {
        data: all.slice((page - 1) * perPage, page * perPage),
        pagination: {
          current_page: page,
          per_page: perPage,
          total_entries: all.length,
          total_pages: totalPages,
        },
      });
    }
    if (recordId === undefined && req.method === 'POST') {
      if (typeof body !== 'object' || body === null) return reject(400, 'create without a JSON object body');
      const b = body as Record<string, unknown>;
      for (const key of Object.keys(b))
        if (!CREATE_FIELDS.has(key)) return reject(400, `undocumented field ${key}`);
      if (typeof b.name !== 'string' || typeof b.type !== 'string' || typeof b.content !== 'string') {
        return reject(400, 'name, type and content must be strings');
      }
      if (b.name.endsWith(zoneName)) return reject(400, 'name must be relative to the zone');
      if (b.ttl !== undefined && !Number.isInteger(b.ttl)) return reject(400, 'ttl must be an integer');
      const content = b.type === 'TXT' ? quote(unquote(b.content)) : b.content;
      const dup = [...zone.records.values()].some(
        (r) => r.name === b.name && r.type === b.type && r.content === content,
      );
      if (dup)
        return send(400, { message: 'Validation failed', errors: { base: ['Zone record already exists'] } });
      const rec = addRecord(zoneName, {
        name: b.name,
        type: b.type,
        content: b.content,
        ...(typeof b.ttl === 'number' ? { ttl: b.ttl } : {}),
      });
      return send(201, { data: rec });
    }
    if (recordId !== undefined && req.method === 'DELETE') {
      if (raw !== '') return reject(400, 'DELETE with a body');
      if (!zone.records.delete(Number(recordId)))
        return send(404, { message: `Record \`${recordId}\` not found` });
      return send(204);
    }
    return reject(405, `undocumented ${req.method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      unexpected.push(String(err));
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    token,
    account,
    requests,
    unexpected,
    txt: (zone, name) =>
      [...(zones.get(zone)?.records.values() ?? [])]
        .filter((r) => r.type === 'TXT' && r.name === name)
        .map((r) => unquote(r.content)),
    addRecord,
    setDelay: (ms) => (delay = ms),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const quote = (v: string): string => `"${v.replace(/["\\]/g, '\\$&')}"`;
const unquote = (v: string): string =>
  v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
