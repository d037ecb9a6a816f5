import type { StateStore } from '../store/store.js';
import type { CertificateSummary } from '../store/types.js';
import { mapLimit } from '../util/map-limit.js';

/**
 * Every certificate's facts and renewal status from its custom metadata: one read each, never a key
 * (secrets written by the seed's scripts, without metadata, are read and parsed instead).
 */
export async function inventory(store: StateStore, concurrency = 32): Promise<CertificateSummary[]> {
  const names = await store.listCertificateNames();
  const rows = await mapLimit(names, concurrency, (name) => store.getCertificateSummary(name));
  return rows.filter((r): r is CertificateSummary => r !== null).sort((a, b) => a.name.localeCompare(b.name));
}
