import type { KeyObject } from 'node:crypto';
import type { Logger } from '../ops/log.js';
import {
  accountKeyRollover,
  deactivateAccount,
  newAccount,
  type AccountResult,
  type NewAccountOptions,
} from './account.js';
import { fetchRenewalInfo, type RenewalInfo } from './ari.js';
import {
  dns01For,
  getAuthorization,
  pollAuthorization,
  respondChallenge,
  type Dns01Challenge,
} from './authz.js';
import {
  downloadCertificate,
  revokeCertificate,
  type DownloadOptions,
  type DownloadedCertificate,
  type RevocationReason,
} from './certificate.js';
import { accountSigner } from './jws.js';
import {
  finalizeOrder,
  getOrder,
  newOrder,
  pollOrder,
  type NewOrderOptions,
  type PollOrderOptions,
} from './order.js';
import type { PollOptions } from './poll.js';
import { AcmeSession } from './session.js';
import type { AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeDirectory, AcmeOrder } from './types.js';

export interface AcmeClientOptions {
  directoryUrl: string;
  /** Private account key (ECDSA P-256/P-384 or RSA). */
  accountKey: KeyObject;
  /** Known account URL; otherwise set by newAccount. */
  accountUrl?: string | undefined;
  /** Extra CA (PEM) trusted for the ACME connection only, e.g. Pebble's test CA. */
  caCert?: string | undefined;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
}

/**
 * RFC 8555 client for dns-01 issuance with ARI (RFC 9773) and profiles. Thin methods over one signed
 * request primitive (see session.ts); stateless apart from the nonce pool and the cached directory.
 */
export class AcmeClient {
  private constructor(private readonly session: AcmeSession) {}

  static async create(options: AcmeClientOptions): Promise<AcmeClient> {
    const signer = await accountSigner(options.accountKey);
    return new AcmeClient(new AcmeSession({ ...options, signer }));
  }

  get accountUrl(): string | undefined {
    return this.session.accountUrl;
  }

  /** RFC 7638 thumbprint of the current account key (part of every key authorization). */
  get thumbprint(): string {
    return this.session.signer.thumbprint;
  }

  directory(): Promise<AcmeDirectory> {
    return this.session.directory();
  }

  newAccount(options: NewAccountOptions): Promise<AccountResult> {
    return newAccount(this.session, options);
  }

  accountKeyRollover(newKey: KeyObject, signal?: AbortSignal): Promise<void> {
    return accountKeyRollover(this.session, newKey, signal);
  }

  deactivateAccount(signal?: AbortSignal): Promise<AcmeAccount> {
    return deactivateAccount(this.session, signal);
  }

  newOrder(options: NewOrderOptions): Promise<AcmeOrder> {
    return newOrder(this.session, options);
  }

  getOrder(url: string, signal?: AbortSignal): Promise<AcmeOrder> {
    return getOrder(this.session, url, signal);
  }

  getAuthorization(url: string, signal?: AbortSignal): Promise<AcmeAuthorization> {
    return getAuthorization(this.session, url, signal);
  }

  dns01(authz: AcmeAuthorization): Dns01Challenge {
    return dns01For(authz, this.session.signer.thumbprint);
  }

  respondChallenge(url: string, signal?: AbortSignal): Promise<AcmeChallenge> {
    return respondChallenge(this.session, url, signal);
  }

  pollAuthorization(url: string, options: PollOptions): Promise<AcmeAuthorization> {
    return pollAuthorization(this.session, url, options);
  }

  finalize(order: AcmeOrder, csrDer: Uint8Array, signal?: AbortSignal): Promise<AcmeOrder> {
    return finalizeOrder(this.session, order, csrDer, signal);
  }

  pollOrder(url: string, options: PollOrderOptions): Promise<AcmeOrder> {
    return pollOrder(this.session, url, options);
  }

  downloadCertificate(order: AcmeOrder, options?: DownloadOptions): Promise<DownloadedCertificate> {
    return downloadCertificate(this.session, order, options);
  }

  revoke(certDer: Uint8Array, reason?: RevocationReason, signal?: AbortSignal): Promise<void> {
    return revokeCertificate(this.session, certDer, reason, signal);
  }

  /** ARI window for a certificate (PEM, leaf first); null when the CA has no renewalInfo. */
  renewalInfo(certPem: string, signal?: AbortSignal): Promise<RenewalInfo | null> {
    return fetchRenewalInfo(this.session, { pem: certPem }, signal);
  }

  /** The same by ARI certificate ID (see pki/ari-id.ts). */
  renewalInfoById(certificateId: string, signal?: AbortSignal): Promise<RenewalInfo | null> {
    return fetchRenewalInfo(this.session, { id: certificateId }, signal);
  }

  /** Closes pooled connections (only relevant with caCert); the client is unusable afterwards. */
  close(): Promise<void> {
    return this.session.close();
  }
}
