import type { z } from 'zod';
import { configError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { HostPort } from './hostport.js';
import { providerTypes, type ProviderSpec, type ProviderType } from './specs.js';
import { dnsimpleDefinition } from './providers/dnsimple.js';
import { execDefinition } from './providers/exec.js';
import { rfc2136Definition } from './providers/rfc2136.js';

export type { HostPort } from './hostport.js';

/** A DNS backend for DNS-01: value-addressed and batched per name, so wildcard + apex can share a name. */
export interface DnsProvider {
  readonly type: string;
  /** Make sure every value is present in the TXT RRset at fqdn (others left alone). One provider call per name. */
  present(fqdn: string, values: string[], signal?: AbortSignal): Promise<void>;
  /** Remove exactly these values; other values at the name stay. Idempotent. */
  cleanup(fqdn: string, values: string[], signal?: AbortSignal): Promise<void>;
  /** Where to check propagation by default when the user gave no resolvers (e.g. the rfc2136 server). */
  defaultCheckServers?(): HostPort[];
}

export interface ProviderOptions {
  logger?: Logger;
  /** Replaces global fetch (HTTP providers). */
  fetch?: typeof fetch;
  /** Per request or command. Provider default when absent. */
  timeoutMs?: number;
}

/** What each provider module exports: its help, its settings schema, and a constructor. */
export interface ProviderDefinition<S> {
  spec: ProviderSpec;
  schema: z.ZodType<S, Record<string, string>>;
  create(settings: S, opts: ProviderOptions): DnsProvider;
}

const definitions = {
  rfc2136: rfc2136Definition,
  dnsimple: dnsimpleDefinition,
  exec: execDefinition,
} as const;

export {
  providerSpecs,
  providerTypes,
  type ProviderKeySpec,
  type ProviderSpec,
  type ProviderType,
} from './specs.js';

function definitionOf(type: string): ProviderDefinition<unknown> {
  if (!Object.hasOwn(definitions, type)) {
    throw configError(`unknown DNS provider type "${type}"`, `known types: ${providerTypes.join(', ')}`);
  }
  return definitions[type as ProviderType] as unknown as ProviderDefinition<unknown>;
}

/** Validates settings (throws a one-line config error naming the bad key) and returns the parsed form. */
export function validateProviderSettings(type: string, settings: Record<string, string>): unknown {
  const def = definitionOf(type);
  const result = def.schema.safeParse(settings);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const known = def.spec.keys.map((k) => k.name);
  if (issue.code === 'unrecognized_keys') {
    throw configError(`unknown ${type} setting "${issue.keys[0]}"`, `known settings: ${known.join(', ')}`);
  }
  const key = String(issue.path[0] ?? '');
  const spec = def.spec.keys.find((k) => k.name === key);
  // Only our own messages are shown: they never echo the value, which may be a secret.
  throw configError(
    `${type} setting "${key}" ${issue.message}`,
    spec ? `${key}: ${spec.description}` : undefined,
  );
}

export function createDnsProvider(
  type: string,
  settings: Record<string, string>,
  opts: ProviderOptions = {},
): DnsProvider {
  const parsed = validateProviderSettings(type, settings);
  return definitionOf(type).create(parsed, opts);
}

/** A copy of settings safe to print: secret values replaced. */
export function redactSettings(type: string, settings: Record<string, string>): Record<string, string> {
  const secrets = new Set(
    definitionOf(type)
      .spec.keys.filter((k) => k.secret)
      .map((k) => k.name),
  );
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, secrets.has(k) ? '[redacted]' : v]));
}
