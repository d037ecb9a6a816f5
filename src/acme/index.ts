export { AcmeClient, type AcmeClientOptions } from './client.js';
export type { AccountResult, NewAccountOptions } from './account.js';
export { ariCertificateId, type RenewalInfo } from './ari.js';
export type { Dns01Challenge } from './authz.js';
export {
  chooseChain,
  splitPemChain,
  type DownloadOptions,
  type DownloadedCertificate,
  type RevocationReason,
} from './certificate.js';
export type { ExternalAccountBinding } from './jws.js';
export type { NewOrderOptions, PollOrderOptions } from './order.js';
export type { PollOptions } from './poll.js';
export { AcmeProblem, shortProblemType, type AcmeSubproblem, type AcmeIdentifier } from './problem.js';
export { DEFAULT_SERVER, KNOWN_SERVERS, resolveServer, type ResolvedServer } from './servers.js';
export type { AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeDirectory, AcmeOrder } from './types.js';
