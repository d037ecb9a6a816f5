import { encodeName } from './names.js';
import { CLASS_ANY, CLASS_IN, CLASS_NONE, TYPE_SOA, TYPE_TXT, txtRdata, u16, u32 } from './wire.js';

/**
 * RFC 2136 UPDATE messages, encoded by hand: dns-packet cannot write class NONE (254),
 * which "delete this one value" needs.
 */

export interface UpdateRR {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

/** Adds a value to the TXT RRset; adding a value that is already there changes nothing. */
export const addTxt = (name: string, value: string, ttl: number): UpdateRR => ({
  name,
  type: TYPE_TXT,
  class: CLASS_IN,
  ttl,
  rdata: txtRdata(value),
});

/** Removes one value; other values at the name stay, and an absent value is a no-op. */
export const deleteTxtValue = (name: string, value: string): UpdateRR => ({
  name,
  type: TYPE_TXT,
  class: CLASS_NONE,
  ttl: 0,
  rdata: txtRdata(value),
});

/** Removes the whole TXT RRset at a name. */
export const deleteTxtRRset = (name: string): UpdateRR => ({
  name,
  type: TYPE_TXT,
  class: CLASS_ANY,
  ttl: 0,
  rdata: Buffer.alloc(0),
});

const OPCODE_UPDATE = 5 << 11;

/** An unsigned UPDATE: zone section `<zone> SOA IN`, no prerequisites, the given updates. */
export function buildUpdate(id: number, zone: string, updates: UpdateRR[]): Buffer {
  const header = Buffer.concat([u16(id), u16(OPCODE_UPDATE), u16(1), u16(0), u16(updates.length), u16(0)]);
  const zoneSection = Buffer.concat([encodeName(zone), u16(TYPE_SOA), u16(CLASS_IN)]);
  const rrs = updates.map((rr) =>
    Buffer.concat([
      encodeName(rr.name),
      u16(rr.type),
      u16(rr.class),
      u32(rr.ttl),
      u16(rr.rdata.length),
      rr.rdata,
    ]),
  );
  return Buffer.concat([header, zoneSection, ...rrs]);
}
