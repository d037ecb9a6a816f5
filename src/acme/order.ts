import { configError, operationError } from '../errors.js';
import { normalizeNames } from '../pki/csr.js';
import { authorizationProblem, getAuthorization } from './authz.js';
import { pollUntil, type PollOptions } from './poll.js';
import { AcmeProblem, problemFromJson } from './problem.js';
import type { AcmeSession } from './session.js';
import { orderSchema, parseResource, type AcmeOrder } from './types.js';

export interface NewOrderOptions {
  /** DNS names; "*.example.com" for a wildcard. */
  identifiers: string[];
  /** ACME profile name; must be one the directory lists. */
  profile?: string | undefined;
  /** ARI certificate ID of the certificate this order replaces (RFC 9773 §5). */
  replaces?: string | undefined;
  signal?: AbortSignal | undefined;
}

export async function newOrder(session: AcmeSession, options: NewOrderOptions): Promise<AcmeOrder> {
  const dir = await session.directory();
  const names = normalizeNames(options.identifiers);
  const payload: Record<string, unknown> = { identifiers: names.map((value) => ({ type: 'dns', value })) };
  if (options.profile !== undefined) {
    const profiles = dir.meta?.profiles;
    if (!profiles) {
      throw configError(
        `this CA lists no certificate profiles, so profile "${options.profile}" cannot be used`,
      );
    }
    if (!Object.hasOwn(profiles, options.profile)) {
      const known = Object.keys(profiles).join(', ') || 'none';
      throw configError(`unknown certificate profile "${options.profile}"`, `this CA offers: ${known}`);
    }
    payload.profile = options.profile;
  }
  if (options.replaces !== undefined) payload.replaces = options.replaces;
  const res = await session.post(dir.newOrder, payload, { action: 'new order', signal: options.signal });
  if (!res.location) throw operationError('CA answered new order without the order URL (Location header)');
  return { ...parseResource(orderSchema, res.json, 'order', res.location), url: res.location };
}

async function fetchOrder(
  session: AcmeSession,
  url: string,
  signal?: AbortSignal,
): Promise<{ value: AcmeOrder; retryAfter: Date | undefined }> {
  const res = await session.post(url, '', { action: 'order fetch', signal });
  return {
    value: { ...parseResource(orderSchema, res.json, 'order', url), url },
    retryAfter: res.retryAfter,
  };
}

export async function getOrder(session: AcmeSession, url: string, signal?: AbortSignal): Promise<AcmeOrder> {
  return (await fetchOrder(session, url, signal)).value;
}

/** Sends the CSR (DER). The answer is usually "processing"; poll until valid afterwards. */
export async function finalizeOrder(
  session: AcmeSession,
  order: AcmeOrder,
  csrDer: Uint8Array,
  signal?: AbortSignal,
): Promise<AcmeOrder> {
  const csr = Buffer.from(csrDer).toString('base64url');
  const res = await session.post(order.finalize, { csr }, { action: 'order finalization', signal });
  return { ...parseResource(orderSchema, res.json, 'order', order.url), url: order.url };
}

export interface PollOrderOptions extends PollOptions {
  /** 'ready' after the challenges, 'valid' after finalization. */
  until: 'ready' | 'valid';
}

export async function pollOrder(
  session: AcmeSession,
  url: string,
  options: PollOrderOptions,
): Promise<AcmeOrder> {
  let invalid: AcmeOrder | undefined;
  const order = await pollUntil(
    `waiting for order to become ${options.until}`,
    () => fetchOrder(session, url, options.signal),
    (o) => {
      if (o.status === 'invalid') {
        invalid = o;
        return 'done';
      }
      if (o.status === options.until || o.status === 'valid') return 'done';
      // Pending while the CA still validates; processing while it issues.
      if (options.until === 'ready' ? o.status === 'pending' : o.status === 'processing') return 'wait';
      throw operationError(
        `order is ${o.status}, it cannot become ${options.until}`,
        o.status === 'ready' ? 'finalize the order first' : 'complete its authorizations first',
      );
    },
    options,
    session.logger,
  );
  if (invalid) throw await orderProblem(session, invalid, options.signal);
  return order;
}

/**
 * Why an order is invalid: its own error, else the error of the first failed authorization (CAs often
 * only record the failure there).
 */
export async function orderProblem(
  session: AcmeSession,
  order: AcmeOrder,
  signal?: AbortSignal,
): Promise<AcmeProblem> {
  if (order.error) {
    return problemFromJson(order.error, {
      action: 'order',
      status: order.error.status ?? 403,
      url: order.url,
    });
  }
  for (const url of order.authorizations) {
    const authz = await getAuthorization(session, url, signal);
    if (authz.status !== 'valid' && authz.status !== 'pending') return authorizationProblem(authz);
  }
  return new AcmeProblem({
    action: 'order',
    status: 403,
    type: 'about:blank',
    detail: 'order is invalid (the CA gave no reason)',
    url: order.url,
  });
}
