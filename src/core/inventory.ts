import type { IndexedCertificate, StateStore } from '../store/store.js';
import type { CertificateSummary } from '../store/types.js';
import { mapLimit } from '../util/map-limit.js';

/**
 * Every certificate's facts and renewal status, never a key: from the summary index (at most 256
 * reads), and for names it lacks from the certificate's custom metadata (one read each; secrets
 * written by the seed's scripts, without metadata, are read and parsed instead).
 */
export async function inventory(
  store: StateStore,
  opts: { useIndex?: boolean; concurrency?: number } = {},
): Promise<CertificateSummary[]> {
  const names = await store.listCertificateNames();
  const indexed =
    opts.useIndex === false ? new Map<string, IndexedCertificate>() : await store.readIndex(names);
  const rows = await mapLimit(
    names,
    opts.concurrency ?? 32,
    async (name) => indexed.get(name)?.summary ?? store.getCertificateSummary(name),
  );
  return rows.filter((r): r is CertificateSummary => r !== null).sort((a, b) => a.name.localeCompare(b.name));
}
