// Shared shapes between the HTTP layer, the "core" pipeline and the engines (mirrors Vault's logical package).
import type { JsonObject } from './util.js';

export type Operation = 'read' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'header';

export interface LogicalRequest {
  op: Operation;
  /** Path relative to the handler (mount-relative for engines). */
  path: string;
  data: JsonObject;
  headers: Record<string, string | string[] | undefined>;
  now: bigint;
}

export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: 'service' | 'batch';
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

export interface LogicalResponse {
  data?: JsonObject | null;
  warnings?: string[];
  auth?: AuthBlock | null;
  wrapInfo?: WrapInfo | null;
  leaseDuration?: number;
  renewable?: boolean;
  /** Vault copies `data` to the top level of a few legacy sys endpoints. */
  topLevel?: boolean;
}

/** What a handler returns; the core turns it into a status and a body the way Vault's SDK does. */
export type Outcome =
  | { kind: 'resp'; resp: LogicalResponse | null }
  | { kind: 'error'; status: number; messages: string[] }
  /** `logical.RespondWithStatusCode`: full envelope (or empty body) with the engine's status. */
  | { kind: 'raw'; status: number; resp: LogicalResponse | null }
  /** Non-envelope bodies (sys/health, seal-status, leader). */
  | { kind: 'http'; status: number; body: unknown; headers?: Record<string, string> };

export const ok = (data?: JsonObject | null, warnings?: string[]): Outcome => ({
  kind: 'resp',
  resp: { data: data ?? null, ...(warnings && warnings.length > 0 ? { warnings } : {}) },
});
export const respond = (resp: LogicalResponse | null): Outcome => ({ kind: 'resp', resp });
export const nothing = (): Outcome => ({ kind: 'resp', resp: null });
export const fail = (message: string, status = 400): Outcome => ({
  kind: 'error',
  status,
  messages: [message],
});
export const failEmpty = (status: number): Outcome => ({ kind: 'error', status, messages: [] });
export const raw = (status: number, resp: LogicalResponse | null): Outcome => ({ kind: 'raw', status, resp });

export interface MountEntry {
  path: string;
  type: string;
  description: string;
  accessor: string;
  uuid: string;
  options: Record<string, string> | null;
  engine?: Engine;
}

export interface Engine {
  /** Existence check for POST/PUT: true → update, false → create, undefined → no check (update). */
  exists(path: string, now: bigint): boolean | undefined;
  handle(req: LogicalRequest): Outcome;
}
