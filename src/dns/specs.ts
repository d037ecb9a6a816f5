/**
 * What each DNS provider needs, as plain data: the CLI prints help and validates key names from
 * here without loading the providers themselves (their schemas and network code).
 */
export interface ProviderKeySpec {
  name: string;
  required: boolean;
  /** Never print or log the value. */
  secret: boolean;
  description: string;
}

export interface ProviderSpec {
  description: string;
  keys: ProviderKeySpec[];
}

export const DNSIMPLE_DEFAULT_BASE_URL = 'https://api.dnsimple.com';

export const rfc2136Spec: ProviderSpec = {
  description: 'RFC 2136 dynamic update signed with TSIG (BIND, Knot, PowerDNS, ...)',
  keys: [
    {
      name: 'server',
      required: true,
      secret: false,
      description: 'primary server, HOST[:PORT] (port 53 by default)',
    },
    {
      name: 'tsig-key',
      required: true,
      secret: false,
      description: 'TSIG key name as configured on the server',
    },
    {
      name: 'tsig-secret',
      required: true,
      secret: true,
      description: 'TSIG secret, base64 (tsig-keygen output)',
    },
    {
      name: 'tsig-algorithm',
      required: false,
      secret: false,
      description: 'hmac-sha256 (default), hmac-sha384 or hmac-sha512',
    },
    {
      name: 'zone',
      required: false,
      secret: false,
      description: 'zone apex; found by SOA queries to the server if absent',
    },
    {
      name: 'ttl',
      required: false,
      secret: false,
      description: 'TTL of the TXT records in seconds (default 60)',
    },
    {
      name: 'transport',
      required: false,
      secret: false,
      description: 'udp (default, TCP on truncation) or tcp',
    },
  ],
};

export const dnsimpleSpec: ProviderSpec = {
  description: 'DNSimple API v2',
  keys: [
    {
      name: 'token',
      required: true,
      secret: true,
      description: 'API access token (account token with zone write access)',
    },
    {
      name: 'account',
      required: false,
      secret: false,
      description: 'numeric account id; asked with GET /v2/whoami if absent (account tokens only)',
    },
    {
      name: 'base-url',
      required: false,
      secret: false,
      description: `API base URL (default ${DNSIMPLE_DEFAULT_BASE_URL})`,
    },
    {
      name: 'zone',
      required: false,
      secret: false,
      description: 'zone name; found by trying each parent name if absent',
    },
    {
      name: 'ttl',
      required: false,
      secret: false,
      description: 'TTL of the TXT records in seconds (default 60)',
    },
  ],
};

export const execSpec: ProviderSpec = {
  description:
    'your own commands; env CERTVAULT_DNS_ACTION (add|remove), CERTVAULT_DNS_NAME, CERTVAULT_DNS_VALUE (first), CERTVAULT_DNS_VALUES (space-separated)',
  keys: [
    {
      name: 'add',
      required: true,
      secret: false,
      description: 'command that adds the values (run with /bin/sh -c)',
    },
    {
      name: 'remove',
      required: true,
      secret: false,
      description: 'command that removes exactly the values',
    },
    {
      name: 'timeout',
      required: false,
      secret: false,
      description: 'seconds before a command is killed (default 120)',
    },
  ],
};

export const providerSpecs = { rfc2136: rfc2136Spec, dnsimple: dnsimpleSpec, exec: execSpec } as const;
export type ProviderType = keyof typeof providerSpecs;
export const providerTypes = Object.keys(providerSpecs) as ProviderType[];
