import { randomInt } from 'node:crypto';
import { CertvaultError, operationError } from '../errors.js';
import { formatHostPort, type HostPort } from './hostport.js';
import { exchange, type ExchangeOptions } from './transport.js';
import {
  TSIG_BADKEY,
  TSIG_BADSIG,
  TSIG_BADTIME,
  signRequest,
  tsigErrorName,
  verifyResponse,
  type TsigKey,
} from './tsig.js';
import { buildUpdate, type UpdateRR } from './update.js';
import { rcodeName } from './wire.js';

/** Sends TSIG-signed RFC 2136 UPDATEs and turns every failure into one clear line. */

export interface UpdateResult {
  via: 'udp' | 'tcp';
}

export async function sendUpdate(
  server: HostPort,
  zone: string,
  updates: UpdateRR[],
  key: TsigKey,
  opts: ExchangeOptions & { now?: () => number } = {},
): Promise<UpdateResult> {
  const label = formatHostPort(server);
  const unsigned = buildUpdate(randomInt(0x10000), zone, updates);
  const signed = signRequest(unsigned, key, opts.now ? { now: opts.now() } : {});
  const { response, via } = await exchange(server, signed.message, opts);
  const opcode = (response.readUInt16BE(2) >> 11) & 0xf;
  if (opcode !== 5) throw operationError(`DNS server ${label} answered the UPDATE with opcode ${opcode}`);
  const rcode = response.readUInt16BE(2) & 0xf;

  let verified;
  try {
    verified = verifyResponse(response, signed.mac, key, opts.now ? { now: opts.now() } : {});
  } catch (err) {
    const why = err instanceof CertvaultError ? err.message : String(err);
    throw operationError(`rejected the reply of DNS server ${label} to the UPDATE: ${why}`);
  }
  if (verified.error === TSIG_BADSIG || verified.error === TSIG_BADKEY) {
    throw operationError(
      `server ${label} rejected TSIG key ${key.name} (wrong secret or key name)`,
      `check tsig-key, tsig-secret and tsig-algorithm (${key.algorithm}) against the key statement on the server`,
    );
  }
  if (verified.error === TSIG_BADTIME) {
    const serverTime =
      verified.signed && verified.otherData.length === 6 ? verified.otherData.readUIntBE(0, 6) : 0;
    const at = serverTime ? new Date(serverTime * 1000).toISOString() : 'unknown';
    throw operationError(
      `server ${label} rejected the UPDATE time (BADTIME): server clock ${at}, local clock ${new Date().toISOString()}`,
      'synchronise the clocks (NTP); TSIG allows 300 s of difference',
    );
  }
  if (verified.error !== 0) {
    throw operationError(`server ${label} rejected the UPDATE signature: ${tsigErrorName(verified.error)}`);
  }
  if (!verified.signed) {
    if (rcode === 0)
      throw operationError(`server ${label} sent an unsigned reply to a signed UPDATE; not trusting it`);
    throw rcodeError(label, rcode, zone, updates, key, ' (unsigned reply)');
  }
  if (rcode !== 0) throw rcodeError(label, rcode, zone, updates, key, '');
  return { via };
}

function rcodeError(
  label: string,
  rcode: number,
  zone: string,
  updates: UpdateRR[],
  key: TsigKey,
  note: string,
) {
  const names = [...new Set(updates.map((u) => u.name))];
  const what = `server ${label} answered ${rcodeName(rcode)}${note} to the UPDATE of TXT at ${names.join(', ')} in zone ${zone}`;
  switch (rcode) {
    case 5:
      return operationError(
        what,
        `the key may not change that name; on BIND grant it: update-policy { grant ${key.name} name ${names[0]}. TXT; };`,
      );
    case 9:
      return operationError(
        what,
        `the server is not the primary for zone ${zone}; set zone= to the zone apex it serves`,
      );
    case 10:
      return operationError(what, `the name is outside zone ${zone}; set zone= to the zone that contains it`);
    case 1:
      return operationError(what, 'the server could not parse the UPDATE');
    case 2:
      return operationError(what, 'see the DNS server log');
    default:
      return operationError(what);
  }
}
