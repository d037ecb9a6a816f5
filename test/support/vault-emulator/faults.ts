// Fault injection and the request log used by reliability tests.

export interface FaultSpec {
  /** HTTP method, or `LIST` for `GET ?list=true`; any when absent. */
  method?: string;
  /** Logical path after `/v1/` (namespace prefix removed): exact string, `prefix*`, or a RegExp. */
  path?: string | RegExp;
  /** Answer with this status instead of handling the request. */
  status?: number;
  /** Body for `status`: a string is sent as is, anything else as JSON; default `{"errors":["injected fault"]}`. */
  body?: unknown;
  /** Delay before answering (or before handling, when no status/drop is set). */
  latencyMs?: number;
  /** Share of matching requests affected, 0..1 (default 1). */
  ratio?: number;
  /** Affect at most this many requests. */
  count?: number;
  /** Destroy the socket without an HTTP response. */
  dropConnection?: boolean;
}

/** Removes the fault when called; also reports how often it matched and fired. */
export interface FaultHandle {
  (): void;
  readonly matched: number;
  readonly fired: number;
}

interface Fault {
  spec: FaultSpec;
  matched: number;
  fired: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** HTTP status sent; 0 when the connection was dropped. */
  status: number;
  namespace: string;
  ms: number;
}

/** mulberry32: small seeded PRNG so a failing ratio test can be replayed with the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultDecision {
  latencyMs: number;
  /** The first firing fault that answers (status or drop), if any. */
  answer?: FaultSpec;
}

export class Faults {
  private list: Fault[] = [];

  constructor(private readonly random: () => number) {}

  add(spec: FaultSpec): FaultHandle {
    if (spec.ratio !== undefined && !(spec.ratio >= 0 && spec.ratio <= 1)) {
      throw new RangeError('fault ratio must be within 0..1');
    }
    const fault: Fault = { spec, matched: 0, fired: 0 };
    this.list.push(fault);
    const remove = () => {
      this.list = this.list.filter((f) => f !== fault);
    };
    Object.defineProperties(remove, {
      matched: { get: () => fault.matched },
      fired: { get: () => fault.fired },
    });
    return remove as FaultHandle;
  }

  clear(): void {
    this.list = [];
  }

  private matches(spec: FaultSpec, method: string, path: string): boolean {
    if (spec.method !== undefined && spec.method.toUpperCase() !== method) return false;
    const p = spec.path;
    if (p === undefined) return true;
    if (p instanceof RegExp) {
      p.lastIndex = 0;
      return p.test(path);
    }
    return p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : p === path;
  }

  /**
   * Latency-only faults add up; the first firing fault with a status or a drop ends the request.
   * `ratio` is drawn only for matching requests, so the fired share is honest per matching request.
   */
  decide(method: string, path: string): FaultDecision {
    const out: FaultDecision = { latencyMs: 0 };
    for (const f of [...this.list]) {
      if (!this.matches(f.spec, method, path)) continue;
      if (f.spec.count !== undefined && f.fired >= f.spec.count) continue;
      f.matched++;
      if (this.random() >= (f.spec.ratio ?? 1)) continue;
      f.fired++;
      out.latencyMs += f.spec.latencyMs ?? 0;
      if (f.spec.status !== undefined || f.spec.dropConnection) {
        out.answer = f.spec;
        break;
      }
    }
    return out;
  }
}
