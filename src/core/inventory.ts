import type { StateStore } from '../store/store.js';
import type { CertificateSummary, RenewalState } from '../store/types.js';
import { mapLimit } from '../util/map-limit.js';

export interface InventoryEntry extends CertificateSummary {
  state: RenewalState | null;
}

/** Every certificate's facts (metadata) with its renewal state: two reads each, never a key. */
export async function inventory(store: StateStore, concurrency = 32): Promise<InventoryEntry[]> {
  const names = await store.listCertificateNames();
  const rows = await mapLimit(names, concurrency, async (name) => {
    const [summary, state] = await Promise.all([store.getCertificateSummary(name), store.getState(name)]);
    return summary ? { ...summary, state: state?.value ?? null } : null;
  });
  return rows.filter((r): r is InventoryEntry => r !== null).sort((a, b) => a.name.localeCompare(b.name));
}
