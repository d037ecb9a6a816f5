// A small HCL reader for policy documents: blocks with string labels, attributes, lists, objects,
// strings, numbers, booleans and the three comment styles. JSON documents are accepted too.

export type HclValue = string | number | boolean | HclValue[] | HclBody;
export interface HclBlock {
  type: string;
  labels: string[];
  body: HclBody;
}
export interface HclBody {
  attributes: Map<string, HclValue>;
  blocks: HclBlock[];
}

type Token =
  | { t: 'ident'; v: string; line: number }
  | { t: 'string'; v: string; line: number }
  | { t: 'number'; v: number; line: number }
  | { t: 'punct'; v: string; line: number }
  | { t: 'eof'; line: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c) || c === ',') {
      // commas are optional separators in lists and objects
      if (c === ',') out.push({ t: 'punct', v: ',', line });
      i++;
    } else if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`At ${line}: unterminated comment`);
      line += src.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') throw new Error(`At ${line}: newline in string`);
        if (src[j] === '\\') {
          const e = src[j + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new Error(`At ${line}: unterminated string`);
      out.push({ t: 'string', v: s, line });
      i = j + 1;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i));
      if (!m) throw new Error(`At ${line}: unexpected "${c}"`);
      out.push({ t: 'number', v: Number(m[0]), line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_\-.]*/.exec(src.slice(i));
      const v = m?.[0] ?? c;
      out.push({ t: 'ident', v, line });
      i += v.length;
    } else if ('{}[]=:'.includes(c)) {
      out.push({ t: 'punct', v: c, line });
      i++;
    } else {
      throw new Error(`At ${line}: illegal char "${c}"`);
    }
  }
  out.push({ t: 'eof', line });
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.pos] ?? { t: 'eof', line: 0 };
  }
  private next(): Token {
    return this.toks[this.pos++] ?? { t: 'eof', line: 0 };
  }
  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === v;
  }
  private expect(v: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== v) throw new Error(`At ${t.line}: expected "${v}"`);
  }
  private skipCommas(): void {
    while (this.isPunct(',')) this.pos++;
  }

  body(end: 'eof' | '}'): HclBody {
    const body: HclBody = { attributes: new Map(), blocks: [] };
    for (;;) {
      this.skipCommas();
      const t = this.peek();
      if (end === 'eof' ? t.t === 'eof' : t.t === 'punct' && t.v === '}') break;
      if (t.t !== 'ident' && t.t !== 'string') throw new Error(`At ${t.line}: expected a key`);
      this.pos++;
      const key = String(t.v);
      if (this.isPunct('=') || this.isPunct(':')) {
        this.pos++;
        body.attributes.set(key, this.value());
        continue;
      }
      const labels: string[] = [];
      while (this.peek().t === 'string') labels.push(String((this.next() as { v: string }).v));
      this.expect('{');
      body.blocks.push({ type: key, labels, body: this.body('}') });
      this.expect('}');
    }
    return body;
  }

  private value(): HclValue {
    const t = this.next();
    if (t.t === 'string' || t.t === 'number') return t.v;
    if (t.t === 'ident' && (t.v === 'true' || t.v === 'false')) return t.v === 'true';
    if (t.t === 'punct' && t.v === '[') {
      const list: HclValue[] = [];
      for (;;) {
        this.skipCommas();
        if (this.isPunct(']')) break;
        list.push(this.value());
      }
      this.expect(']');
      return list;
    }
    if (t.t === 'punct' && t.v === '{') {
      const b = this.body('}');
      this.expect('}');
      return b;
    }
    throw new Error(`At ${t.line}: unexpected value`);
  }
}

/** Parses HCL text into attributes and blocks; throws with a line number on syntax errors. */
export function parseHcl(src: string): HclBody {
  return new Parser(tokenize(src)).body('eof');
}
