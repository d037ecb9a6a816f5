import { z } from 'zod';
import { KEY_TYPES } from '../pki/keys.js';
import type { CertificateFacts } from '../pki/cert.js';

/** The four PEM pieces, named as Certbot and the seed's Vault layout name them. */
export interface CertificateMaterial {
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

/** A certificate's facts (pki/cert.ts) as stored under a name. */
export interface CertificateSummary extends CertificateFacts {
  name: string;
  /** KV version of the certificate secret (0 on KV v1). */
  version: number;
  /** Where the facts came from: our custom metadata, or the PEM (seed-written secrets). */
  source: 'metadata' | 'pem';
  /** Failing renewals, mirrored from `state/<name>` into the metadata so listing needs one read. */
  renewal?: RenewalStatus | undefined;
}

export interface RenewalStatus {
  failures: number;
  /** Short ACME problem type (or `error`) of the last failure. */
  problem: string;
  /** No new attempt before this time (ISO 8601). */
  retryAfter: string;
}

export interface StoredCertificate extends CertificateSummary {
  material: CertificateMaterial;
}

/** What `issue` was told, kept so `renew` needs nothing else. */
export const IssueParamsSchema = z.object({
  domains: z.array(z.string()).min(1),
  dns: z.string(),
  server: z.string(),
  keyType: z.enum(KEY_TYPES),
  reuseKey: z.boolean().default(false),
  profile: z.string().optional(),
  preferredChain: z.string().optional(),
  /** Shell command run after each renewal of this certificate (`issue --deploy-hook`). */
  deployHook: z.string().optional(),
  createdAt: z.string(),
});
export type IssueParams = z.infer<typeof IssueParamsSchema>;

export const AcmeProblemRecordSchema = z.object({
  type: z.string(),
  detail: z.string(),
  status: z.number().optional(),
  at: z.string(),
});

/** Renewal bookkeeping, written often, so it lives apart from the certificate secret. */
export const RenewalStateSchema = z.object({
  ari: z
    .object({
      windowStart: z.string(),
      windowEnd: z.string(),
      selectedTime: z.string(),
      retryAfter: z.string(),
      certSerial: z.string(),
      explanationUrl: z.string().optional(),
    })
    .optional(),
  /** The CA had no usable ARI: use the lifetime rule and do not ask again before this time. */
  ariUnavailableUntil: z.string().optional(),
  failures: z.number().int().nonnegative().default(0),
  nextAttemptAfter: z.string().optional(),
  lastProblem: AcmeProblemRecordSchema.optional(),
  lastSuccess: z.string().optional(),
});
export type RenewalState = z.infer<typeof RenewalStateSchema>;

export const AccountSchema = z.object({
  server: z.string(),
  directoryUrl: z.string(),
  url: z.string(),
  /** PKCS#8 PEM of the account key. */
  key: z.string(),
  contact: z.array(z.string()).default([]),
  createdAt: z.string(),
});
export type Account = z.infer<typeof AccountSchema>;

export const DnsCredentialsSchema = z.object({
  provider: z.string(),
  settings: z.record(z.string(), z.string()),
  updatedAt: z.string(),
});
export type DnsCredentials = z.infer<typeof DnsCredentialsSchema>;

export const SettingsSchema = z.object({
  defaultServer: z.string().optional(),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** A pending order, recorded before finalize so a killed run resumes instead of ordering again. */
export const OrderJournalSchema = z.object({
  orderUrl: z.string(),
  /** PKCS#8 PEM of the key the CSR was made with. */
  key: z.string(),
  /** base64 DER of the CSR sent (or about to be sent) to finalize. */
  csr: z.string(),
  domains: z.array(z.string()),
  server: z.string(),
  /** Version of the certificate secret when the order started (for the check-and-set write). */
  certVersion: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type OrderJournal = z.infer<typeof OrderJournalSchema>;

/** A per-certificate lease: whoever holds an unexpired one is renewing that certificate. */
export const LockSchema = z.object({
  owner: z.string(),
  host: z.string(),
  pid: z.number().int(),
  acquiredAt: z.string(),
  expiresAt: z.string(),
});
export type LockRecord = z.infer<typeof LockSchema>;
