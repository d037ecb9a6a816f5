/**
 * The few DER (X.690) pieces certvault needs: enough to write a PKCS#10 request and to read a
 * certificate's serial and Authority Key Identifier. Written here because the X.509 library we tried
 * costs 0.6-1 s of start-up on every run (docs/benchmarks.md), while this is a few dozen lines.
 */

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (content: Buffer): Buffer => tlv(0x04, content);
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
/** A BIT STRING holding whole bytes (no unused bits), as signatures are. */
export const bitString = (content: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), content]));

export function smallInteger(n: number): Buffer {
  if (n < 0 || n > 127) throw new Error('only small non-negative integers are needed');
  return tlv(0x02, Buffer.from([n]));
}

export function objectId(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v & 0x7f);
      if (v < 128) break;
    }
    groups.forEach((g, i) => out.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return tlv(0x06, Buffer.from(out));
}

export interface Element {
  tag: number;
  /** The content octets. */
  content: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

/** Reads one element at `offset`. */
export function read(buf: Buffer, offset = 0): Element {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let pos = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + (buf[pos + i] ?? 0);
    pos += count;
  }
  if (pos + len > buf.length) throw new Error('truncated DER');
  return { tag, content: buf.subarray(pos, pos + len), end: pos + len };
}

/** The elements inside a constructed element's content. */
export function children(content: Buffer): Element[] {
  const out: Element[] = [];
  for (let pos = 0; pos < content.length;) {
    const el = read(content, pos);
    out.push(el);
    pos = el.end;
  }
  return out;
}

export function decodeObjectId(content: Buffer): string {
  const first = content[0] ?? 0;
  const arcs = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (const byte of content.subarray(1)) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}
