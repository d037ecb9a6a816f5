import { usageError } from '../errors.js';
import { createLogger, type LogFormat, type LogLevel, type Logger } from '../ops/log.js';
import { reportVaultResponse } from '../ops/observe.js';
import type { OpenedStore } from '../store/open.js';
import type { AcmeConnection } from '../core/acme-context.js';

/** Options every command accepts (defined once on the root program). */
export interface GlobalOptions {
  store?: string;
  vaultAddr?: string;
  vaultMount?: string;
  vaultPrefix?: string;
  vaultNamespace?: string;
  vaultCaCert?: string;
  vaultTokenFile?: string;
  vaultTlsSkipVerify?: boolean;
  vaultAuth?: string;
  vaultAuthMount?: string;
  vaultRole?: string;
  vaultRoleIdFile?: string;
  vaultSecretIdFile?: string;
  vaultSecretIdWrapped?: boolean;
  vaultJwtFile?: string;
  vaultKubernetesTokenFile?: string;
  json?: boolean;
  acmeCaCert?: string;
  logLevel: string;
  logFormat: string;
}

export interface Context {
  globals: GlobalOptions;
  json: boolean;
  logger: Logger;
  open(): Promise<OpenedStore>;
  /** How to reach the CA (`--acme-ca-cert`). */
  acme(): Promise<AcmeConnection>;
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const FORMATS: LogFormat[] = ['text', 'json'];

export function createContext(globals: GlobalOptions): Context {
  if (!LEVELS.includes(globals.logLevel as LogLevel)) {
    throw usageError(`invalid --log-level "${globals.logLevel}"`, `use one of ${LEVELS.join(', ')}`);
  }
  if (!FORMATS.includes(globals.logFormat as LogFormat)) {
    throw usageError(`invalid --log-format "${globals.logFormat}"`, 'use text or json');
  }
  const logger = createLogger(globals.logLevel as LogLevel, globals.logFormat as LogFormat);
  let opened: Promise<OpenedStore> | undefined;
  return {
    globals,
    json: globals.json === true,
    logger,
    async acme() {
      const { readAcmeCaCert } = await import('../core/acme-context.js');
      return { caCertPem: readAcmeCaCert(globals.acmeCaCert), logger };
    },
    open() {
      opened ??= import('../store/open.js')
        .then(({ openStore }) =>
          openStore({
            store: globals.store,
            vault: {
              addr: globals.vaultAddr,
              namespace: globals.vaultNamespace,
              caCert: globals.vaultCaCert,
              tokenFile: globals.vaultTokenFile,
              insecure: globals.vaultTlsSkipVerify,
            },
            auth: {
              method: globals.vaultAuth,
              mount: globals.vaultAuthMount,
              role: globals.vaultRole,
              roleIdFile: globals.vaultRoleIdFile,
              secretIdFile: globals.vaultSecretIdFile,
              secretIdWrapped: globals.vaultSecretIdWrapped,
              jwtFile: globals.vaultJwtFile,
              kubernetesTokenFile: globals.vaultKubernetesTokenFile,
            },
            mount: globals.vaultMount,
            prefix: globals.vaultPrefix,
            logger,
            onVaultResponse: reportVaultResponse,
          }),
        )
        .then(
          (o) => {
            if (o.notice) process.stderr.write(`${o.notice}\n`);
            logger.debug({ store: o.store.location }, 'store opened');
            return o;
          },
          (err: unknown) => {
            opened = undefined; // a long-running command (serve, export --watch) tries again later
            throw err;
          },
        );
      return opened;
    },
  };
}
