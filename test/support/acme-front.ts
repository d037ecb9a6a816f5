// An HTTP "front" for Pebble 2.4, which has no ARI: it serves Pebble's directory plus a scripted
// `renewalInfo` endpoint, can list certificate profiles, and can answer newOrder itself (e.g. with a
// rateLimited problem). Every
// other URL in the directory still points at Pebble, so signed requests go to Pebble unchanged.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Agent } from 'undici';

export interface RenewalInfoReply {
  status?: number;
  window?: { start: Date; end: Date };
  retryAfterSeconds?: number;
}

export interface AcmeFront {
  directoryUrl: string;
  /** Certificate IDs asked for, in order. */
  renewalInfoRequests: string[];
  /** Set the renewalInfo answer (default: 404). */
  renewalInfo: (certId: string) => RenewalInfoReply;
  /** When set, newOrder is answered here with this problem instead of going to Pebble. */
  refuseOrders?: { status: number; type: string; detail: string; retryAfterSeconds?: number } | undefined;
  refusedOrders: number;
  /** How long each refused newOrder is held before the answer, to see how many a client has open. */
  refuseDelayMs: number;
  /** The most refused newOrder requests held open at once (set it back to 0 between runs). */
  maxOrdersInFlight: number;
  /** Certificate profiles to list in the directory's meta (Pebble 2.4 lists none and ignores `profile`). */
  profiles?: Record<string, string> | undefined;
  /** The JWS payloads of the newOrder requests answered here (what the client asked the CA for). */
  orderPayloads: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startAcmeFront(pebbleDirectoryUrl: string, pebbleCaPem: string): Promise<AcmeFront> {
  const dispatcher = new Agent({ connect: { ca: pebbleCaPem } });
  const upstream = (await (await fetch(pebbleDirectoryUrl, { dispatcher } as RequestInit)).json()) as Record<
    string,
    unknown
  >;
  let base = '';
  let inFlight = 0;
  const front: AcmeFront = {
    directoryUrl: '',
    renewalInfoRequests: [],
    renewalInfo: () => ({ status: 404 }),
    refuseOrders: undefined,
    refusedOrders: 0,
    refuseDelayMs: 0,
    maxOrdersInFlight: 0,
    orderPayloads: [],
    stop: async () => {
      await new Promise((r) => server.close(r));
      await dispatcher.close();
    },
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/new-order' && front.refuseOrders) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      inFlight++;
      front.maxOrdersInFlight = Math.max(front.maxOrdersInFlight, inFlight);
      req.on('end', () => {
        const jws = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payload: string };
        front.orderPayloads.push(
          JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as Record<string, unknown>,
        );
        setTimeout(() => {
          inFlight--;
          refuse(res);
        }, front.refuseDelayMs);
      });
      return;
    }
    req.resume();
    if (url.pathname === '/directory') {
      const dir: Record<string, unknown> = { ...upstream, renewalInfo: `${base}/renewal-info` };
      if (front.profiles) dir.meta = { ...(upstream.meta as object), profiles: front.profiles };
      if (front.refuseOrders) dir.newOrder = `${base}/new-order`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(dir));
      return;
    }
    if (url.pathname.startsWith('/renewal-info/')) {
      const id = decodeURIComponent(url.pathname.slice('/renewal-info/'.length));
      front.renewalInfoRequests.push(id);
      const reply = front.renewalInfo(id);
      if (!reply.window) {
        res
          .writeHead(reply.status ?? 404, { 'content-type': 'application/problem+json' })
          .end(JSON.stringify({ type: 'urn:ietf:params:acme:error:malformed', detail: 'no renewal info' }));
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
      res.writeHead(200, headers).end(
        JSON.stringify({
          suggestedWindow: { start: reply.window.start.toISOString(), end: reply.window.end.toISOString() },
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  const refuse = (res: ServerResponse) => {
    const p = front.refuseOrders!;
    front.refusedOrders++;
    const headers: Record<string, string> = {
      'content-type': 'application/problem+json',
      'replay-nonce': 'front-nonce',
    };
    if (p.retryAfterSeconds !== undefined) headers['retry-after'] = String(p.retryAfterSeconds);
    res
      .writeHead(p.status, headers)
      .end(
        JSON.stringify({ type: `urn:ietf:params:acme:error:${p.type}`, detail: p.detail, status: p.status }),
      );
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  front.directoryUrl = `${base}/directory`;
  return front;
}
