// KV secrets engine version 1 (the "passthrough" backend): plain JSON objects, no versions.
import { fail, nothing, ok, respond, type Engine, type LogicalRequest, type Outcome } from './types.js';
import { childKeys, multiError, NS_PER_S, parseDuration, type JsonObject } from './util.js';

/** System default lease TTL (768h), reported as lease_duration on reads. */
export const DEFAULT_LEASE_TTL = 2_764_800;

export class KvV1Engine implements Engine {
  readonly entries = new Map<string, string>();

  exists(path: string): boolean {
    return this.entries.has(path);
  }

  handle(req: LogicalRequest): Outcome {
    switch (req.op) {
      case 'read':
        return this.read(req.path);
      case 'list':
        return this.list(req.path);
      case 'create':
      case 'update':
        if (req.path === '') return fail('missing path');
        if (Object.keys(req.data).length === 0) return fail('missing data fields');
        this.entries.set(req.path, JSON.stringify(req.data));
        return nothing();
      case 'delete':
        this.entries.delete(req.path);
        return nothing();
      default:
        return { kind: 'error', status: 405, messages: [multiError('unsupported operation')] };
    }
  }

  private read(path: string): Outcome {
    const text = this.entries.get(path);
    if (text === undefined) return nothing();
    const data = JSON.parse(text) as JsonObject;
    let ttl = DEFAULT_LEASE_TTL;
    const ttlRaw = data.ttl ?? data.lease;
    if (ttlRaw !== undefined) {
      try {
        ttl = Number(parseDuration(ttlRaw) / NS_PER_S);
      } catch {
        // unparseable ttl fields are ignored, as the passthrough backend does
      }
    }
    return respond({ data, leaseDuration: ttl, renewable: false });
  }

  private list(prefix: string): Outcome {
    return ok({ keys: childKeys(this.entries.keys(), prefix) });
  }
}
