// A tiny scriptable ACME server double on 127.0.0.1 (plain HTTP) for what Pebble 2.4 cannot do:
// ARI renewalInfo, profiles, 429/503 with Retry-After, injected badNonce, slow answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { decodeProtectedHeader, flattenedVerify, importJWK, type FlattenedJWS, type JWK } from 'jose';

export interface DoubleRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** For POSTs: the verified JWS protected header and payload text ('' for POST-as-GET). */
  jws?: { header: Record<string, unknown>; payload: string; verified: boolean };
}

export interface DoubleReply {
  status?: number;
  headers?: Record<string, string | string[]>;
  json?: unknown;
  text?: string;
  /** Milliseconds to wait before answering (to test timeouts). */
  delayMs?: number;
}

export interface AcmeDoubleOptions {
  /** Serve a renewalInfo URL in the directory (path /renewal-info/). */
  renewalInfo?: boolean;
  profiles?: Record<string, string>;
  /** Answers every request the double does not handle itself; undefined means 404. */
  handler?: (req: DoubleRequest) => DoubleReply | undefined | Promise<DoubleReply | undefined>;
}

export interface AcmeDouble {
  base: string;
  directoryUrl: string;
  requests: DoubleRequest[];
  /** Nonces handed out so far, in order. */
  nonces: string[];
  stop(): Promise<void>;
}

export async function startAcmeDouble(options: AcmeDoubleOptions = {}): Promise<AcmeDouble> {
  const requests: DoubleRequest[] = [];
  const nonces: string[] = [];
  /** Account URL → public JWK, learned from jwk-signed requests, so kid-signed ones can be verified. */
  const accountKeys = new Map<string, JWK>();
  let base = '';

  const nextNonce = () => {
    const n = `nonce-${nonces.length + 1}`;
    nonces.push(n);
    return n;
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const request: DoubleRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
    if (req.method === 'POST' && body) request.jws = await inspectJws(body, accountKeys);
    requests.push(request);
    res.setHeader('replay-nonce', nextNonce());

    let reply: DoubleReply | undefined;
    if (path === '/dir' && req.method === 'GET') reply = { json: directory() };
    else if (path === '/nonce' && (req.method === 'HEAD' || req.method === 'GET')) reply = { status: 200 };
    else reply = await options.handler?.(request);
    reply ??= {
      status: 404,
      json: { type: 'urn:ietf:params:acme:error:malformed', detail: `no route ${path}` },
    };

    const location = reply.headers?.location;
    const jwk = request.jws?.header.jwk as JWK | undefined;
    if (jwk && typeof location === 'string') accountKeys.set(location, jwk);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    res.statusCode = reply.status ?? 200;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (reply.json !== undefined) {
      if (!res.hasHeader('content-type')) {
        res.setHeader(
          'content-type',
          res.statusCode >= 400 ? 'application/problem+json' : 'application/json',
        );
      }
      res.end(JSON.stringify(reply.json));
    } else {
      res.end(reply.text ?? '');
    }
  }

  function directory(): Record<string, unknown> {
    return {
      newNonce: `${base}/nonce`,
      newAccount: `${base}/new-account`,
      newOrder: `${base}/new-order`,
      revokeCert: `${base}/revoke`,
      keyChange: `${base}/key-change`,
      ...(options.renewalInfo ? { renewalInfo: `${base}/renewal-info/` } : {}),
      meta: { termsOfService: `${base}/tos`, ...(options.profiles ? { profiles: options.profiles } : {}) },
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  base = `http://127.0.0.1:${addr.port}`;
  return {
    base,
    directoryUrl: `${base}/dir`,
    requests,
    nonces,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function inspectJws(body: string, accountKeys: Map<string, JWK>): Promise<DoubleRequest['jws']> {
  const jws = JSON.parse(body) as FlattenedJWS;
  const header = decodeProtectedHeader(jws) as Record<string, unknown>;
  const payload = Buffer.from(jws.payload, 'base64url').toString('utf8');
  const jwk = (header.jwk as JWK | undefined) ?? accountKeys.get(String(header.kid));
  let verified = false;
  if (jwk) {
    try {
      await flattenedVerify(jws, await importJWK(jwk, String(header.alg)));
      verified = true;
    } catch {
      verified = false;
    }
  }
  return { header, payload, verified };
}
