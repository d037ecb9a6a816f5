// The request pipeline after HTTP decoding, in Vault's order: trailing-slash writes, unwrap, login,
// token check, existence check (create vs update), ACL, routing, response wrapping, rendering.
import { randomUUID } from 'node:crypto';
import type { Namespace, State } from './state.js';
import { handleSys, handleToken, uiMounts, type CallCtx } from './sys.js';
import { newEntityId, type TokenEntry } from './tokens.js';
import {
  fail,
  respond,
  type LogicalRequest,
  type LogicalResponse,
  type Operation,
  type Outcome,
} from './types.js';
import { goJson, multiError, struct, type JsonObject } from './util.js';

export interface CoreRequest {
  ns: Namespace;
  path: string;
  op: Operation;
  data: JsonObject;
  headers: LogicalRequest['headers'];
  token: string | undefined;
  wrapTtl: number;
}

export interface CoreResult {
  outcome: Outcome;
  op: Operation;
  mountType: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const isWrite = (op: Operation): boolean => op === 'create' || op === 'update';
const denied = (): Outcome => ({ kind: 'error', status: 403, messages: [multiError('permission denied')] });
const unsupportedOp = (): Outcome => ({
  kind: 'error',
  status: 405,
  messages: [multiError('unsupported operation')],
});
const SUDO_PATHS = new Set(['sys/seal', 'sys/step-down']);

export class Core {
  constructor(private readonly state: State) {}

  /** Plain `permission denied` (or Vault ≥ 1.17's pair) for a missing, unknown or expired token. */
  invalidToken(provided: boolean): Outcome {
    const messages =
      this.state.opts.invalidTokenStyle === 'vault-1.17' && provided
        ? ['permission denied', 'invalid token']
        : ['permission denied'];
    return { kind: 'error', status: 403, messages };
  }

  async handle(req: CoreRequest): Promise<CoreResult> {
    const { state } = this;
    const now = state.now();
    let op = req.op;
    const result = (outcome: Outcome, mountType: string): CoreResult => ({
      outcome: this.wrapIfAsked(outcome, req),
      op,
      mountType,
    });

    if ((isWrite(op) || op === 'patch') && req.path.endsWith('/')) {
      return { outcome: fail("cannot write to a path ending in '/'"), op, mountType: '' };
    }
    if (req.path === 'sys/wrapping/unwrap')
      return { outcome: this.unwrap(req, now), op, mountType: 'system' };

    const loginMount = state.auth.isLoginPath(req.path);
    if (loginMount !== undefined) {
      const type = state.auth.mounts.get(loginMount) ?? '';
      if (!isWrite(op)) return result(unsupportedOp(), type);
      return result(await this.login(loginMount, req, now), type);
    }

    const entry = state.tokens.lookup(req.token, now);
    const ui = /^sys\/internal\/ui\/mounts(?:\/(.*))?$/.exec(req.path);
    if (ui) {
      if (op !== 'read') return result(unsupportedOp(), 'system');
      const out = uiMounts(state, req.ns, ui[1] ?? '', entry, () =>
        this.invalidToken(req.token !== undefined),
      );
      return result(out, 'system');
    }
    if (!entry) return { outcome: this.invalidToken(req.token !== undefined), op, mountType: '' };

    const found = state.findMount(req.ns, req.path);
    if (op === 'update' && found?.mount.engine?.exists(found.rel, now) === false) op = 'create';

    // Uses are consumed even when the ACL then denies, as Vault does.
    state.tokens.use(entry);
    const acl = state.aclFor(entry);
    if (!acl.allows(req.ns.path + req.path, op, SUDO_PATHS.has(req.path))) {
      return { outcome: denied(), op, mountType: '' };
    }

    const ctx: CallCtx = {
      state,
      ns: req.ns,
      path: req.path,
      op,
      data: req.data,
      now,
      token: entry,
      wrapTtl: req.wrapTtl,
    };
    if (req.path.startsWith('sys/')) return result(handleSys(ctx), 'system');
    if (req.path.startsWith('auth/token/') || req.path === 'auth/token')
      return result(handleToken(ctx), 'token');
    const authMount = [...state.auth.mounts.keys()].find((m) => req.path.startsWith(`auth/${m}/`));
    if (authMount)
      return result(this.authAdmin(authMount, req, op, now), state.auth.mounts.get(authMount) ?? '');
    if (found?.mount.engine) {
      const out = found.mount.engine.handle({
        op,
        path: found.rel,
        data: req.data,
        headers: req.headers,
        now,
      });
      return result(out, found.mount.type);
    }
    return {
      outcome: fail(`no handler for route "${req.path}". route entry not found.`, 404),
      op,
      mountType: '',
    };
  }

  private authAdmin(mount: string, req: CoreRequest, op: Operation, now: bigint): Outcome {
    if (this.state.auth.mounts.get(mount) !== 'approle') {
      return { kind: 'error', status: 404, messages: [multiError('unsupported path')] };
    }
    const rel = req.path.slice(`auth/${mount}/`.length);
    const out = this.state.auth.approleAdmin(mount, {
      op,
      path: rel,
      data: req.data,
      headers: req.headers,
      now,
    });
    return 'secretId' in out ? respond({ data: out.secretId }) : out;
  }

  private async login(mount: string, req: CoreRequest, now: bigint): Promise<Outcome> {
    const r = await this.state.auth.login(mount, req.data, now);
    if ('kind' in r) return r;
    const entry: TokenEntry = this.state.tokens.create(
      { ...r.token, meta: r.metadata, path: `auth/${mount}/login`, entityId: newEntityId() },
      now,
    );
    return respond({ data: null, auth: this.state.tokens.authBlock(entry, now) });
  }

  private unwrap(req: CoreRequest, now: bigint): Outcome {
    const invalid = fail('wrapping token is not valid or does not exist');
    const bodyToken =
      typeof req.data.token === 'string' && req.data.token !== '' ? req.data.token : undefined;
    if (bodyToken === undefined) {
      const resp = this.state.unwrap(req.token);
      return resp ? respond(resp) : invalid;
    }
    const entry = this.state.tokens.lookup(req.token, now);
    if (!entry) return this.invalidToken(req.token !== undefined);
    if (!this.state.aclFor(entry).allows(req.ns.path + req.path, 'update')) return denied();
    const resp = this.state.unwrap(bodyToken);
    return resp ? respond(resp) : invalid;
  }

  /** Response wrapping requested with `X-Vault-Wrap-TTL`: the caller only gets a wrapping token. */
  private wrapIfAsked(outcome: Outcome, req: CoreRequest): Outcome {
    if (req.wrapTtl <= 0 || outcome.kind !== 'resp' || !outcome.resp) return outcome;
    const r = outcome.resp;
    if (!r.data && !r.auth) return outcome;
    const info = this.state.wrap(r, req.wrapTtl, req.path);
    return respond({ data: null, wrapInfo: info, ...(r.warnings ? { warnings: r.warnings } : {}) });
  }

  envelope(r: LogicalResponse, mountType: string): object {
    const w = r.wrapInfo;
    const env = struct({
      request_id: randomUUID(),
      lease_id: '',
      renewable: r.renewable ?? false,
      lease_duration: r.leaseDuration ?? 0,
      data: r.data ?? null,
      wrap_info: w
        ? struct({
            token: w.token,
            accessor: w.accessor,
            ttl: w.ttl,
            creation_time: w.creation_time,
            creation_path: w.creation_path,
            wrapped_accessor: w.wrapped_accessor ?? '',
          })
        : null,
      warnings: r.warnings && r.warnings.length > 0 ? r.warnings : null,
      auth: r.auth ?? null,
      mount_type: this.state.opts.flavor === 'vault' ? mountType : undefined,
    });
    // Legacy sys endpoints also carry `data` at the top level (a Go map, so keys end up sorted).
    return r.topLevel && r.data ? { ...r.data, ...env } : env;
  }

  render(result: CoreResult): Reply {
    const { outcome, op, mountType } = result;
    const json = (status: number, body: unknown, newline = true): Reply => ({
      status,
      headers: {},
      body: `${goJson(body)}${newline ? '\n' : ''}`,
    });
    const notFound = (): Reply => json(404, { errors: [] });
    switch (outcome.kind) {
      case 'http':
        return {
          status: outcome.status,
          headers: outcome.headers ?? {},
          body: outcome.body === null ? '' : `${goJson(outcome.body)}\n`,
        };
      case 'error':
        return json(outcome.status, { errors: outcome.messages });
      case 'raw':
        // The engine marshals its own envelope (no trailing newline) and its mount_type is empty.
        return outcome.resp
          ? json(outcome.status, this.envelope(outcome.resp, ''), false)
          : { status: outcome.status, headers: {}, body: '' };
      case 'resp': {
        const r = outcome.resp;
        const hasWarnings = (r?.warnings?.length ?? 0) > 0;
        const noContent: Reply = { status: 204, headers: {}, body: '' };
        // SDK RespondErrorCommon: a nil response is 404 for read/header/list; lists need non-empty keys.
        if (!r) return op === 'read' || op === 'header' || op === 'list' ? notFound() : noContent;
        if (op === 'list') {
          const data: JsonObject = r.data ?? {};
          if (Object.keys(data).length === 0 && !hasWarnings) return notFound();
          if (Array.isArray(data.keys) && data.keys.length === 0) return notFound();
        }
        if (!r.data && !r.auth && !r.wrapInfo && !hasWarnings) return noContent;
        return json(200, this.envelope(r, mountType));
      }
    }
  }
}
