/** Public surface of the DNS layer. */
export {
  createDnsProvider,
  providerSpecs,
  providerTypes,
  redactSettings,
  validateProviderSettings,
  type DnsProvider,
  type ProviderKeySpec,
  type ProviderOptions,
  type ProviderSpec,
  type ProviderType,
} from './provider.js';
export { formatHostPort, parseHostPort, type HostPort } from './hostport.js';
export { normalizeName } from './names.js';
export {
  findZone,
  query,
  resolveChallengeTarget,
  systemResolvers,
  txtValues,
  type DnsResponse,
  type FindZoneOptions,
  type QueryOptions,
} from './query.js';
export {
  waitForPropagation,
  type PropagationOptions,
  type PropagationProgress,
  type PropagationResult,
} from './propagation.js';
