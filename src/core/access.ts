import { errorText, operationError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { VaultClient } from '../vault/client.js';
import { missingCapabilities, workflowRequirements, type Layout, type Requirement } from './policy.js';

/** What `sys/capabilities-self` says this token may do on each path (Vault's default policy allows asking). */
export async function capabilitiesSelf(
  client: VaultClient,
  paths: string[],
): Promise<Record<string, string[]>> {
  const res = await client.request({
    method: 'POST',
    path: 'sys/capabilities-self',
    body: { paths },
    retry: 'idempotent',
  });
  return ((res.body as { data?: Record<string, string[]> }).data ?? res.body) as Record<string, string[]>;
}

/**
 * Before `issue` orders anything: stops a token that could not store the result (a renewer asking
 * for a new name, say), since the CA would issue a certificate that is then thrown away. When Vault
 * will not say (no default policy), the writes themselves remain the check.
 */
export async function checkIssueAccess(
  client: VaultClient,
  layout: Layout & { name: string },
  exists: boolean,
  logger?: Logger,
): Promise<void> {
  const needs = workflowRequirements('issue', layout);
  let missing: Requirement[];
  try {
    const granted = await capabilitiesSelf(client, [...new Set(needs.map((r) => r.path))]);
    missing = missingCapabilities(needs, (p) => granted[p] ?? []);
  } catch (err) {
    logger?.debug({ err: errorText(err) }, 'capabilities unknown; issuing without the access check');
    return;
  }
  // Replacing an existing certificate writes a new version: update, not create.
  const certPath = `/certificates/${layout.name}`;
  if (exists) missing = missing.filter((m) => !(m.capability === 'create' && m.path.endsWith(certPath)));
  if (missing.length === 0) return;
  const byPath = new Map<string, string[]>();
  for (const m of missing) byPath.set(m.path, [...(byPath.get(m.path) ?? []), m.capability]);
  throw operationError(
    `Vault denied issuing "${layout.name}" before ordering: this token lacks ${[...byPath].map(([p, caps]) => `${caps.join(', ')} on ${p}`).join('; ')}`,
    'issue with a token carrying the policy printed by `certvault policy issuer` (docs/security.md)',
  );
}
