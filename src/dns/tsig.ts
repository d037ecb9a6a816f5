import { createHmac, timingSafeEqual } from 'node:crypto';
import { operationError } from '../errors.js';
import { encodeName, sameName } from './names.js';
import { CLASS_ANY, TYPE_TSIG, lastRecordOffset, readName, u16, u32, u48 } from './wire.js';

/** TSIG (RFC 8945) signing of requests and verification of responses. */

export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;
const TSIG_ERROR_NAMES: Record<number, string> = {
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};
export const tsigErrorName = (e: number): string => TSIG_ERROR_NAMES[e] ?? `TSIG error ${e}`;

const DEFAULT_FUDGE = 300;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const hashOf = (alg: TsigAlgorithm): string => alg.slice('hmac-'.length);

/** The TSIG variables of the MAC input; names in canonical (lower-case, uncompressed) form. */
function tsigVariables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): Buffer {
  return Buffer.concat([
    encodeName(key.name.toLowerCase()),
    u16(CLASS_ANY),
    u32(0),
    encodeName(key.algorithm),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(hashOf(key.algorithm), key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Appends a TSIG RR to `message` (which must not carry one yet). Returns the signed message and its MAC. */
export function signRequest(
  message: Buffer,
  key: TsigKey,
  opts: { now?: number; fudge?: number } = {},
): { message: Buffer; mac: Buffer } {
  const timeSigned = opts.now ?? nowSeconds();
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const mac = hmac(key, [message, tsigVariables(key, timeSigned, fudge, 0, Buffer.alloc(0))]);
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(timeSigned),
    u16(fudge),
    u16(mac.length),
    mac,
    u16(message.readUInt16BE(0)),
    u16(0),
    u16(0),
  ]);
  const rr = Buffer.concat([
    encodeName(key.name),
    u16(TYPE_TSIG),
    u16(CLASS_ANY),
    u32(0),
    u16(rdata.length),
    rdata,
  ]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

export interface TsigRecord {
  /** Offset of the TSIG RR in the message. */
  start: number;
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

/** The TSIG RR when it is the last record of the message, else undefined. */
export function findTsig(msg: Buffer): TsigRecord | undefined {
  const start = lastRecordOffset(msg);
  if (start < 0 || msg.readUInt16BE(10) === 0) return undefined;
  // Reads past the end throw RangeError; callers treat any throw as a malformed message.
  const owner = readName(msg, start);
  let pos = owner.next;
  if (msg.readUInt16BE(pos) !== TYPE_TSIG) return undefined;
  pos += 10; // type, class, ttl, rdlength
  const alg = readName(msg, pos);
  pos = alg.next;
  const timeSigned = msg.readUIntBE(pos, 6);
  const fudge = msg.readUInt16BE(pos + 6);
  const macSize = msg.readUInt16BE(pos + 8);
  pos += 10;
  const mac = msg.subarray(pos, pos + macSize);
  pos += macSize;
  const originalId = msg.readUInt16BE(pos);
  const error = msg.readUInt16BE(pos + 2);
  const otherLen = msg.readUInt16BE(pos + 4);
  const otherData = msg.subarray(pos + 6, pos + 6 + otherLen);
  return {
    start,
    keyName: owner.name,
    algorithm: alg.name,
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData,
  };
}

export type TsigVerification =
  /** The response MAC verified; `error` is the TSIG error field (0, or e.g. BADTIME). */
  | { signed: true; error: number; timeSigned: number; otherData: Buffer }
  /** No TSIG, or an empty MAC as servers send with BADSIG/BADKEY: nothing can be authenticated. */
  | { signed: false; error: number };

/**
 * Checks the TSIG of a response to a request whose MAC was `requestMac` (RFC 8945 §5.3).
 * Throws an operation error when the response carries a TSIG that does not verify.
 */
export function verifyResponse(
  response: Buffer,
  requestMac: Buffer,
  key: TsigKey,
  opts: { now?: number } = {},
): TsigVerification {
  let t: TsigRecord | undefined;
  try {
    t = findTsig(response);
  } catch (err) {
    throw operationError(`malformed response: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!t) return { signed: false, error: 0 };
  if (!sameName(t.keyName, key.name)) {
    throw operationError(`response is signed with key "${t.keyName}", expected "${key.name}"`);
  }
  if (t.mac.length === 0) {
    if (t.error !== 0) return { signed: false, error: t.error };
    throw operationError('response carries a TSIG record without a MAC');
  }
  if (!sameName(t.algorithm, key.algorithm)) {
    throw operationError(`response is signed with ${t.algorithm}, expected ${key.algorithm}`);
  }
  const expectedLength = createHmac(hashOf(key.algorithm), key.secret).digest().length;
  if (t.mac.length !== expectedLength) {
    throw operationError(
      `response MAC is ${t.mac.length} bytes, expected ${expectedLength} (truncated MACs are not accepted)`,
    );
  }
  const body = Buffer.from(response.subarray(0, t.start));
  body.writeUInt16BE(t.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [
    u16(requestMac.length),
    requestMac,
    body,
    tsigVariables(key, t.timeSigned, t.fudge, t.error, t.otherData),
  ]);
  if (!timingSafeEqual(expected, t.mac)) {
    throw operationError(
      'response TSIG MAC does not verify (altered in transit, or not from the server holding the key)',
    );
  }
  // A BADTIME answer echoes our own time; its Other Data holds the server's clock instead.
  const now = opts.now ?? nowSeconds();
  if (t.error !== TSIG_BADTIME && Math.abs(now - t.timeSigned) > t.fudge) {
    throw operationError(
      `response TSIG time ${new Date(t.timeSigned * 1000).toISOString()} is more than ${t.fudge} s from the local clock`,
    );
  }
  return { signed: true, error: t.error, timeSigned: t.timeSigned, otherData: t.otherData };
}
