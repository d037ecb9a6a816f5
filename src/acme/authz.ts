import { createHash } from 'node:crypto';
import { operationError } from '../errors.js';
import { pollUntil, type PollOptions } from './poll.js';
import { AcmeProblem, problemFromJson } from './problem.js';
import type { AcmeSession } from './session.js';
import {
  authorizationSchema,
  challengeSchema,
  parseResource,
  type AcmeAuthorization,
  type AcmeChallenge,
} from './types.js';

export interface Dns01Challenge {
  challenge: AcmeChallenge;
  /** The DNS name the authorization is for (no "*." prefix). */
  domain: string;
  keyAuthorization: string;
  /** The TXT record value: base64url(SHA-256(keyAuthorization)) (RFC 8555 §8.4). */
  txtValue: string;
  /** "_acme-challenge.<domain>", without a trailing dot. */
  recordName: string;
}

async function fetchAuthorization(
  session: AcmeSession,
  url: string,
  signal?: AbortSignal,
): Promise<{ value: AcmeAuthorization; retryAfter: Date | undefined }> {
  const res = await session.post(url, '', { action: 'authorization fetch', signal });
  return {
    value: { ...parseResource(authorizationSchema, res.json, 'authorization', url), url },
    retryAfter: res.retryAfter,
  };
}

export async function getAuthorization(
  session: AcmeSession,
  url: string,
  signal?: AbortSignal,
): Promise<AcmeAuthorization> {
  return (await fetchAuthorization(session, url, signal)).value;
}

/** The dns-01 challenge of an authorization with the values to publish. Pure: no request. */
export function dns01For(authz: AcmeAuthorization, thumbprint: string): Dns01Challenge {
  const challenge = authz.challenges.find((c) => c.type === 'dns-01');
  const domain = authz.identifier.value.replace(/^\*\./, '');
  if (!challenge) {
    const offered = authz.challenges.map((c) => c.type).join(', ') || 'none';
    throw operationError(`CA offers no dns-01 challenge for ${domain} (offered: ${offered})`);
  }
  if (!challenge.token) throw operationError(`CA sent a dns-01 challenge without a token for ${domain}`);
  const keyAuthorization = `${challenge.token}.${thumbprint}`;
  return {
    challenge,
    domain,
    keyAuthorization,
    txtValue: createHash('sha256').update(keyAuthorization).digest('base64url'),
    recordName: `_acme-challenge.${domain}`,
  };
}

/** Tells the CA the challenge is ready to validate (POST {}). */
export async function respondChallenge(
  session: AcmeSession,
  url: string,
  signal?: AbortSignal,
): Promise<AcmeChallenge> {
  const res = await session.post(url, {}, { action: 'challenge response', signal });
  return parseResource(challengeSchema, res.json, 'challenge', url);
}

/** Polls until valid; invalid becomes an AcmeProblem from the failed challenge's error. */
export function pollAuthorization(
  session: AcmeSession,
  url: string,
  options: PollOptions,
): Promise<AcmeAuthorization> {
  return pollUntil(
    'waiting for authorization to become valid',
    () => fetchAuthorization(session, url, options.signal),
    (authz) => {
      if (authz.status === 'valid') return 'done';
      if (authz.status === 'pending') return 'wait';
      throw authorizationProblem(authz);
    },
    options,
    session.logger,
  );
}

/** Why an authorization is not valid, from the error of its failed challenge when there is one. */
export function authorizationProblem(authz: AcmeAuthorization): AcmeProblem {
  const name = authz.identifier.value;
  const failed = authz.challenges.find((c) => c.error !== undefined);
  if (failed?.error) {
    return problemFromJson(failed.error, {
      action: `${failed.type} validation for ${name}`,
      status: failed.error.status ?? 403,
      url: failed.url,
    });
  }
  return new AcmeProblem({
    action: `authorization for ${name}`,
    status: 403,
    type: 'about:blank',
    detail: `authorization is ${authz.status}`,
    url: authz.url,
  });
}
