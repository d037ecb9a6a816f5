import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket, { type Answer, type RecordType } from 'dns-packet';
import { CertvaultError, operationError } from '../errors.js';
import { formatHostPort, type HostPort } from './hostport.js';
import { nameAndParents, normalizeName, sameName } from './names.js';
import { exchange, type ExchangeOptions } from './transport.js';
import { rcodeName } from './wire.js';

/** Raw DNS queries (RD under our control, authority section visible, no cache), zone and CNAME look-ups. */

export interface QueryOptions extends ExchangeOptions {
  /** Recursion desired. Default true; use false for authoritative servers. */
  rd?: boolean;
}

export interface DnsResponse {
  server: HostPort;
  rcode: number;
  rcodeName: string;
  aa: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

export async function query(
  server: HostPort,
  name: string,
  type: RecordType,
  opts: QueryOptions = {},
): Promise<DnsResponse> {
  const qname = name.replace(/\.$/, '') || '.';
  const packet = dnsPacket.encode({
    type: 'query',
    id: randomInt(0x10000),
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name: qname, class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  });
  const { response } = await exchange(server, packet, opts);
  let decoded;
  try {
    decoded = dnsPacket.decode(response);
  } catch {
    throw operationError(`malformed DNS reply from ${formatHostPort(server)} for ${qname} ${type}`);
  }
  const q = decoded.questions?.[0];
  if (!q || !sameName(q.name, qname) || q.type !== type) {
    throw operationError(
      `DNS reply from ${formatHostPort(server)} does not match the question ${qname} ${type}`,
    );
  }
  const rcode = response.readUInt16BE(2) & 0xf;
  return {
    server,
    rcode,
    rcodeName: rcodeName(rcode),
    aa: decoded.flag_aa,
    answers: decoded.answers ?? [],
    authorities: decoded.authorities ?? [],
    additionals: (decoded.additionals ?? []).filter((a) => a.type !== 'OPT'),
  };
}

/** TXT values owned by `name` in a response, each with its character-strings joined. */
export function txtValues(res: DnsResponse, name: string): string[] {
  const out: string[] = [];
  for (const a of res.answers) {
    if (a.type !== 'TXT' || !sameName(a.name, name)) continue;
    const chunks = Array.isArray(a.data) ? a.data : [a.data];
    out.push(chunks.map((c) => (Buffer.isBuffer(c) ? c.toString('utf8') : c)).join(''));
  }
  return out;
}

/** Asks each server in turn; the first NOERROR/NXDOMAIN answer wins, else the last answer or error. */
export async function queryAny(
  servers: HostPort[],
  name: string,
  type: RecordType,
  opts: QueryOptions,
): Promise<DnsResponse> {
  if (servers.length === 0) throw operationError(`no DNS servers to ask for ${name} ${type}`);
  let last: DnsResponse | undefined;
  let lastError: unknown;
  for (const server of servers) {
    try {
      const res = await query(server, name, type, opts);
      if (res.rcode === 0 || res.rcode === 3) return res;
      last = res;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      lastError = err;
    }
  }
  if (last) return last;
  throw lastError;
}

/** The data of a name- or address-valued record (CNAME, NS, A, AAAA) as text. */
export const rrText = (a: Answer): string => ('data' in a ? String(a.data) : '');

const cnameOf = (res: DnsResponse, name: string): string | undefined => {
  const rr = res.answers.find((a) => a.type === 'CNAME' && sameName(a.name, name));
  return rr ? normalizeName(rrText(rr)) : undefined;
};

export interface FindZoneOptions extends QueryOptions {
  /** Only trust answers with the AA flag (when asking the authoritative server itself). */
  requireAuthoritative?: boolean;
}

/**
 * The apex of the zone holding `name`: SOA queries walking up the labels. An SOA in the answer
 * (owner = the name asked) or in the authority section (NXDOMAIN/NODATA) names the zone.
 */
export async function findZone(
  name: string,
  resolvers: HostPort[],
  opts: FindZoneOptions = {},
): Promise<string> {
  const target = normalizeName(name);
  for (const candidate of nameAndParents(target)) {
    let res: DnsResponse;
    try {
      res = await queryAny(resolvers, candidate, 'SOA', opts);
    } catch (err) {
      if (opts.signal?.aborted || !(err instanceof CertvaultError)) throw err;
      throw operationError(`cannot find the DNS zone of ${target}: ${err.message}`);
    }
    if ((res.rcode !== 0 && res.rcode !== 3) || (opts.requireAuthoritative && !res.aa)) continue;
    // A CNAME at this label: the authority data describes the target, not this name.
    if (cnameOf(res, candidate)) continue;
    if (res.answers.some((a) => a.type === 'SOA' && sameName(a.name, candidate))) return candidate;
    const soa = res.authorities.find((a) => a.type === 'SOA');
    if (soa) {
      const zone = normalizeName(soa.name);
      if (zone !== '' && (target === zone || target.endsWith(`.${zone}`))) return zone;
    }
  }
  throw operationError(
    `cannot find the DNS zone of ${target} via ${resolvers.map(formatHostPort).join(', ')}`,
    'set zone= for the provider, or check the resolvers',
  );
}

/**
 * Follows CNAMEs from `fqdn` (at most 10 hops) and returns the name where the chain ends: that is
 * where a delegated `_acme-challenge` record must be written and checked.
 */
export async function resolveChallengeTarget(
  fqdn: string,
  resolvers: HostPort[],
  opts: QueryOptions = {},
): Promise<string> {
  let current = normalizeName(fqdn);
  const seen = new Set([current]);
  for (let hops = 0; ;) {
    const res = await queryAny(resolvers, current, 'TXT', opts);
    if (res.rcode !== 0) return current;
    // Recursive resolvers return the whole chain at once; authoritative ones may stop after one hop.
    let moved = false;
    for (let next = cnameOf(res, current); next; next = cnameOf(res, current)) {
      if (seen.has(next) || ++hops > 10) {
        throw operationError(`CNAME chain from ${fqdn} loops or is longer than 10 hops (at ${next})`);
      }
      seen.add(next);
      current = next;
      moved = true;
    }
    if (!moved || res.answers.some((a) => a.type === 'TXT' && sameName(a.name, current))) return current;
    if (res.authorities.some((a) => a.type === 'SOA')) return current;
  }
}

/** Name servers from resolv.conf (IP literals only), on port 53. */
export async function systemResolvers(path = '/etc/resolv.conf'): Promise<HostPort[]> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    // No resolv.conf: fall through to the error below.
  }
  const servers: HostPort[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = m?.[1]?.replace(/%.*$/, '');
    if (host && isIP(host)) servers.push({ host, port: 53 });
  }
  if (servers.length === 0) {
    throw operationError(`no nameserver found in ${path}`, 'pass the DNS resolvers to use explicitly');
  }
  return servers;
}
