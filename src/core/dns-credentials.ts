import { providerSpecs, redactSettings, validateProviderSettings } from '../dns/provider.js';
import { usageError } from '../errors.js';
import type { StateStore } from '../store/store.js';

/** Validates provider settings before anything is written, then stores them. */
export async function saveDnsCredentials(
  store: StateStore,
  name: string,
  provider: string,
  settings: Record<string, string>,
): Promise<void> {
  try {
    validateProviderSettings(provider, settings);
  } catch (err) {
    // Bad settings are the user's input: exit 2.
    throw usageError((err as Error).message, (err as { hint?: string }).hint);
  }
  await store.putDns(name, { provider, settings, updatedAt: new Date().toISOString() });
}

export interface DnsCredentialsView {
  name: string;
  provider: string;
  settings: Record<string, string>;
  updatedAt: string;
}

export async function listDnsCredentials(store: StateStore): Promise<DnsCredentialsView[]> {
  const names = await store.listDns();
  const out: DnsCredentialsView[] = [];
  for (const name of names) {
    const rec = await store.getDns(name);
    if (!rec) continue;
    const { provider, settings, updatedAt } = rec.value;
    const shown = provider in providerSpecs ? redactSettings(provider, settings) : {};
    out.push({ name, provider, settings: shown, updatedAt });
  }
  return out;
}
