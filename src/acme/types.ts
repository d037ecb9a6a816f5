import { z } from 'zod';
import { operationError } from '../errors.js';

/** Shapes of the ACME resources we read (RFC 8555 §7.1, RFC 9773, ACME profiles). Unknown fields pass through. */

const identifier = z.looseObject({ type: z.string(), value: z.string() });
const problemDoc = z.looseObject({
  type: z.string().optional(),
  detail: z.string().optional(),
  status: z.number().optional(),
  subproblems: z.array(z.unknown()).optional(),
});

export const directorySchema = z.looseObject({
  newNonce: z.string(),
  newAccount: z.string(),
  newOrder: z.string(),
  revokeCert: z.string(),
  keyChange: z.string(),
  newAuthz: z.string().optional(),
  renewalInfo: z.string().optional(),
  meta: z
    .looseObject({
      termsOfService: z.string().optional(),
      website: z.string().optional(),
      caaIdentities: z.array(z.string()).optional(),
      externalAccountRequired: z.boolean().optional(),
      /** Profile name → human description. */
      profiles: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});
export type AcmeDirectory = z.infer<typeof directorySchema>;

export const accountSchema = z.looseObject({
  status: z.enum(['valid', 'deactivated', 'revoked']),
  contact: z.array(z.string()).optional(),
  termsOfServiceAgreed: z.boolean().optional(),
  orders: z.string().optional(),
});
export type AcmeAccount = z.infer<typeof accountSchema>;

export const challengeSchema = z.looseObject({
  type: z.string(),
  url: z.string(),
  status: z.enum(['pending', 'processing', 'valid', 'invalid']),
  token: z.string().optional(),
  validated: z.string().optional(),
  error: problemDoc.optional(),
});
export type AcmeChallenge = z.infer<typeof challengeSchema>;

export const authorizationSchema = z.looseObject({
  identifier,
  status: z.enum(['pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked']),
  expires: z.string().optional(),
  challenges: z.array(challengeSchema),
  wildcard: z.boolean().optional(),
});
export type AcmeAuthorization = z.infer<typeof authorizationSchema> & { url: string };

export const orderSchema = z.looseObject({
  status: z.enum(['pending', 'ready', 'processing', 'valid', 'invalid']),
  expires: z.string().optional(),
  identifiers: z.array(identifier),
  notBefore: z.string().optional(),
  notAfter: z.string().optional(),
  error: problemDoc.optional(),
  authorizations: z.array(z.string()),
  finalize: z.string(),
  certificate: z.string().optional(),
  profile: z.string().optional(),
  replaces: z.string().optional(),
});
export type AcmeOrder = z.infer<typeof orderSchema> & { url: string };

export const renewalInfoSchema = z.looseObject({
  suggestedWindow: z.object({ start: z.string(), end: z.string() }),
  explanationURL: z.string().optional(),
});

/** Validates a CA response; a mismatch is the CA's fault, reported without echoing the body. */
export function parseResource<T>(schema: z.ZodType<T>, value: unknown, what: string, url: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw operationError(`CA sent a malformed ${what} (${url})${where}: ${issue?.message ?? 'invalid'}`);
}
