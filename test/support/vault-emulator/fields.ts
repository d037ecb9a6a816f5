// Weakly typed request fields, converted like Vault's framework.FieldData (mapstructure WeakDecode).
import { isObject, parseDuration, parseGoBool, type JsonObject } from './util.js';

export type FieldType = 'string' | 'int' | 'bool' | 'map' | 'duration' | 'intSlice' | 'stringSlice' | 'any';
export type Schema = Record<string, FieldType>;

type Converted = { value: unknown } | { error: string };

const goKind = (v: unknown): string =>
  Array.isArray(v) ? 'slice' : v === null ? 'invalid' : typeof v === 'object' ? 'map' : typeof v;

function toInt(v: unknown): Converted {
  if (typeof v === 'number' && Number.isFinite(v)) return { value: Math.trunc(v) };
  if (typeof v === 'boolean') return { value: v ? 1 : 0 };
  if (v === null) return { value: 0 };
  if (typeof v === 'string') {
    if (v === '') return { value: 0 };
    if (/^[+-]?\d+$/.test(v.trim())) return { value: Number.parseInt(v, 10) };
    return { error: `cannot parse '' as int: strconv.ParseInt: parsing "${v}": invalid syntax` };
  }
  return { error: `'' expected type 'int', got unconvertible type '${goKind(v)}'` };
}

function toBool(v: unknown): Converted {
  if (typeof v === 'boolean') return { value: v };
  if (typeof v === 'number') return { value: v !== 0 };
  if (v === null) return { value: false };
  if (typeof v === 'string') {
    if (v === '') return { value: false };
    const b = parseGoBool(v);
    if (b !== undefined) return { value: b };
    return { error: `cannot parse '' as bool: strconv.ParseBool: parsing "${v}": invalid syntax` };
  }
  return { error: `'' expected type 'bool', got unconvertible type '${goKind(v)}'` };
}

function convert(type: FieldType, v: unknown): Converted {
  switch (type) {
    case 'any':
      return { value: v };
    case 'string':
      if (typeof v === 'string') return { value: v };
      if (typeof v === 'number' || typeof v === 'boolean') return { value: String(v) };
      if (v === null) return { value: '' };
      return { error: `'' expected type 'string', got unconvertible type '${goKind(v)}'` };
    case 'int':
      return toInt(v);
    case 'bool':
      return toBool(v);
    case 'map':
      if (isObject(v) || v === null) return { value: v };
      return { error: `'' expected a map, got '${goKind(v)}'` };
    case 'duration':
      try {
        return { value: v === null ? 0n : parseDuration(v) };
      } catch (e) {
        return { error: (e as Error).message };
      }
    case 'intSlice': {
      const parts = Array.isArray(v)
        ? v
        : typeof v === 'string'
          ? v.split(',').filter((s) => s.trim() !== '')
          : v === null
            ? []
            : [v];
      const out: number[] = [];
      for (const p of parts) {
        const c = toInt(typeof p === 'string' ? p.trim() : p);
        if ('error' in c) return c;
        out.push(c.value as number);
      }
      return { value: out };
    }
    case 'stringSlice': {
      if (Array.isArray(v)) return { value: v.map((x) => String(x).trim()).filter((x) => x !== '') };
      if (typeof v === 'string')
        return {
          value: v
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== ''),
        };
      if (v === null) return { value: [] };
      return { error: `'' expected type 'string', got unconvertible type '${goKind(v)}'` };
    }
  }
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Converted copy of the known fields, or the "Field validation failed" text. */
export function parseFields(
  data: JsonObject,
  schema: Schema,
): { fields: Map<string, unknown>; unknown: string[] } | { error: string } {
  const fields = new Map<string, unknown>();
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    const type = schema[k];
    if (!type) {
      unknown.push(k);
      continue;
    }
    const c = convert(type, v);
    if ('error' in c) {
      return {
        error: `Field validation failed: error converting input ${show(v)} for field "${k}": ${c.error}`,
      };
    }
    fields.set(k, c.value);
  }
  return { fields, unknown: unknown.sort() };
}

export const ignoredWarning = (unknown: string[]): string[] =>
  unknown.length > 0 ? [`Endpoint ignored these unrecognized parameters: [${unknown.join(' ')}]`] : [];
