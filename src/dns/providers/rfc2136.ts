import { z } from 'zod';
import { configError } from '../../errors.js';
import { silentLogger, type Logger } from '../../ops/log.js';
import { formatHostPort, parseHostPort, type HostPort } from '../hostport.js';
import { isInZone, normalizeName } from '../names.js';
import type { DnsProvider, ProviderDefinition, ProviderOptions } from '../provider.js';
import { rfc2136Spec } from '../specs.js';
import { findZone } from '../query.js';
import { sendUpdate } from '../rfc2136.js';
import { TSIG_ALGORITHMS, type TsigKey } from '../tsig.js';
import { addTxt, deleteTxtValue } from '../update.js';
import { integerSetting, requiredText, zoneSetting } from './settings.js';

const isHostPort = (v: string): boolean => {
  try {
    parseHostPort(v);
    return true;
  } catch {
    return false;
  }
};

const schema = z
  .object({
    server: requiredText('HOST or HOST:PORT').refine(isHostPort, {
      error: 'must be HOST or HOST:PORT ([IPv6]:PORT for IPv6)',
    }),
    'tsig-key': requiredText('a key name').refine((v) => /^[A-Za-z0-9._-]+$/.test(v), {
      error: 'must be a key name (letters, digits, ".", "-", "_")',
    }),
    'tsig-secret': requiredText('base64 text').refine(
      (v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0,
      { error: 'must be base64, as in the secret "..." line of tsig-keygen output' },
    ),
    'tsig-algorithm': z
      .enum(TSIG_ALGORITHMS, { error: `must be one of ${TSIG_ALGORITHMS.join(', ')}` })
      .default('hmac-sha256'),
    zone: zoneSetting,
    ttl: integerSetting(1, 86400),
    transport: z.enum(['udp', 'tcp'], { error: 'must be udp or tcp' }).default('udp'),
  })
  .strict();

type Settings = z.output<typeof schema>;

export const rfc2136Definition: ProviderDefinition<Settings> = {
  spec: rfc2136Spec,
  schema,
  create(s, opts) {
    return new Rfc2136Provider(
      {
        server: parseHostPort(s.server),
        key: {
          name: s['tsig-key'],
          algorithm: s['tsig-algorithm'],
          secret: Buffer.from(s['tsig-secret'], 'base64'),
        },
        zone: s.zone === undefined ? undefined : normalizeName(s.zone),
        ttl: s.ttl ?? 60,
        tcp: s.transport === 'tcp',
      },
      opts,
    );
  },
};

interface Config {
  server: HostPort;
  key: TsigKey;
  zone: string | undefined;
  ttl: number;
  tcp: boolean;
}

class Rfc2136Provider implements DnsProvider {
  readonly type = 'rfc2136';
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly zones = new Map<string, Promise<string>>();

  constructor(
    private readonly cfg: Config,
    opts: ProviderOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  async present(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    const name = normalizeName(fqdn);
    await this.update(
      name,
      unique(values).map((v) => addTxt(name, v, this.cfg.ttl)),
      'add',
      signal,
    );
  }

  async cleanup(fqdn: string, values: string[], signal?: AbortSignal): Promise<void> {
    const name = normalizeName(fqdn);
    await this.update(
      name,
      unique(values).map((v) => deleteTxtValue(name, v)),
      'remove',
      signal,
    );
  }

  defaultCheckServers(): HostPort[] {
    return [this.cfg.server];
  }

  private async update(
    name: string,
    updates: ReturnType<typeof addTxt>[],
    action: string,
    signal?: AbortSignal,
  ) {
    if (updates.length === 0) return;
    const zone = await this.zoneOf(name, signal);
    const result = await sendUpdate(this.cfg.server, zone, updates, this.cfg.key, {
      tcp: this.cfg.tcp,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    this.log.info(
      { name, zone, values: updates.length, server: formatHostPort(this.cfg.server), via: result.via },
      `rfc2136: ${action} TXT values`,
    );
  }

  private zoneOf(name: string, signal?: AbortSignal): Promise<string> {
    const { zone } = this.cfg;
    if (zone !== undefined) {
      if (!isInZone(name, zone)) {
        return Promise.reject(
          configError(`${name} is not in zone ${zone}`, 'set zone= to the zone that contains the name'),
        );
      }
      return Promise.resolve(zone);
    }
    let found = this.zones.get(name);
    if (!found) {
      // Ask the server itself, non-recursively, and trust only authoritative answers.
      found = findZone(name, [this.cfg.server], {
        rd: false,
        requireAuthoritative: true,
        timeoutMs: this.timeoutMs,
        tcp: this.cfg.tcp,
        ...(signal ? { signal } : {}),
      });
      this.zones.set(name, found);
      found.catch(() => this.zones.delete(name));
    }
    return found;
  }
}

const unique = (values: string[]): string[] => [...new Set(values)];
