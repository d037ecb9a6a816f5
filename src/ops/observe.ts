/**
 * Process-wide observers of outgoing HTTP requests, for metrics and readiness. The Vault client (via
 * the store context) and the ACME transport report every answered attempt here. Nothing is kept
 * unless a listener subscribes (`serve`, `renew --metrics-*`), so other commands pay one call.
 */
export interface VaultResponseInfo {
  method: string;
  /** Logical path after `/v1/`; listeners must not use it as a metric label as it is (it names secrets). */
  path: string;
  status: number;
  ms: number;
}

export interface AcmeResponseInfo {
  /** The transport's action, e.g. "new order", "renewal info". */
  action: string;
  method: string;
  /** HTTP status, or 0 when no answer came (network error, timeout). */
  status: number;
  ms: number;
}

type Listener<T> = (info: T) => void;

const vaultListeners = new Set<Listener<VaultResponseInfo>>();
const acmeListeners = new Set<Listener<AcmeResponseInfo>>();

function subscribe<T>(set: Set<Listener<T>>, fn: Listener<T>): () => void {
  set.add(fn);
  return () => set.delete(fn);
}

function emit<T>(set: Set<Listener<T>>, info: T): void {
  for (const fn of set) {
    try {
      fn(info);
    } catch {
      // An observer must never break the request it observes.
    }
  }
}

export const onVaultResponse = (fn: Listener<VaultResponseInfo>): (() => void) =>
  subscribe(vaultListeners, fn);
export const onAcmeResponse = (fn: Listener<AcmeResponseInfo>): (() => void) => subscribe(acmeListeners, fn);
export const reportVaultResponse = (info: VaultResponseInfo): void => emit(vaultListeners, info);
export const reportAcmeResponse = (info: AcmeResponseInfo): void => emit(acmeListeners, info);
