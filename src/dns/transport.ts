import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect, isIP } from 'node:net';
import { errorText, operationError } from '../errors.js';
import { formatHostPort, type HostPort } from './hostport.js';

/** Sends one DNS message and returns the matching reply: UDP with retries, TCP on truncation or on request. */

export interface ExchangeOptions {
  /** Use TCP right away. */
  tcp?: boolean;
  /** Per UDP try, and for the whole TCP exchange. Default 2000 ms. */
  timeoutMs?: number;
  /** UDP sends before giving up. Default 3. */
  attempts?: number;
  signal?: AbortSignal;
}

export interface ExchangeResult {
  response: Buffer;
  via: 'udp' | 'tcp';
}

const TC = 1 << 9;
const QR = 1 << 15;

export async function exchange(
  server: HostPort,
  message: Buffer,
  opts: ExchangeOptions = {},
): Promise<ExchangeResult> {
  opts.signal?.throwIfAborted();
  const address = await resolveAddress(server.host);
  const target = { host: address, port: server.port };
  const label = formatHostPort(server);
  if (!opts.tcp) {
    const response = await udpExchange(target, label, message, opts);
    if ((response.readUInt16BE(2) & TC) === 0) return { response, via: 'udp' };
  }
  return { response: await tcpExchange(target, label, message, opts), via: 'tcp' };
}

/** IP literals pass through; host names are looked up once, so replies can be matched by address. */
export async function resolveAddress(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (err) {
    throw operationError(`cannot resolve DNS server host ${host}: ${errorText(err)}`);
  }
}

function isReplyTo(message: Buffer, reply: Buffer): boolean {
  return (
    reply.length >= 12 &&
    reply.readUInt16BE(0) === message.readUInt16BE(0) &&
    (reply.readUInt16BE(2) & QR) !== 0
  );
}

function udpExchange(
  server: HostPort,
  label: string,
  message: Buffer,
  opts: ExchangeOptions,
): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const attempts = Math.max(1, opts.attempts ?? 3);
  return new Promise<Buffer>((resolve, reject) => {
    const socket: UdpSocket = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = settleOnce(opts.signal, resolve, reject, () => {
      clearTimeout(timer);
      socket.close();
    });
    const send = () => {
      if (sent >= attempts) {
        finish(
          operationError(
            `no answer from DNS server ${label} over UDP after ${attempts} tries of ${timeoutMs} ms`,
          ),
        );
        return;
      }
      sent++;
      socket.send(message, server.port, server.host, (err) => {
        if (err) finish(operationError(`cannot send to DNS server ${label}: ${errorText(err)}`));
      });
      timer = setTimeout(send, timeoutMs);
    };
    socket.on('message', (reply, rinfo) => {
      // Only the queried address and port may answer, with our ID (spoofing and stray replies).
      if (rinfo.address !== server.host || rinfo.port !== server.port || !isReplyTo(message, reply)) return;
      finish(undefined, reply);
    });
    socket.on('error', (err) => finish(operationError(`UDP error talking to ${label}: ${errorText(err)}`)));
    send();
  });
}

function tcpExchange(
  server: HostPort,
  label: string,
  message: Buffer,
  opts: ExchangeOptions,
): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let data = Buffer.alloc(0);
    const finish = settleOnce(opts.signal, resolve, reject, () => {
      clearTimeout(timer);
      socket.destroy();
    });
    const timer = setTimeout(
      () => finish(operationError(`no answer from DNS server ${label} over TCP within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length);
      socket.write(Buffer.concat([len, message]));
    });
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        const reply = data.subarray(2, 2 + data.readUInt16BE(0));
        data = data.subarray(2 + reply.length);
        if (isReplyTo(message, reply)) return finish(undefined, Buffer.from(reply));
      }
    });
    socket.on('error', (err) =>
      finish(operationError(`TCP error talking to DNS server ${label}: ${errorText(err)}`)),
    );
    socket.on('close', () =>
      finish(operationError(`DNS server ${label} closed the TCP connection without an answer`)),
    );
  });
}

/**
 * The one way an exchange ends: the first reply or error wins, `cleanup` (timer, socket) runs once,
 * and an abort of `signal` ends it with the signal's reason.
 */
function settleOnce(
  signal: AbortSignal | undefined,
  resolve: (reply: Buffer) => void,
  reject: (err: unknown) => void,
  cleanup: () => void,
): (err: unknown, reply?: Buffer) => void {
  let done = false;
  const finish = (err: unknown, reply?: Buffer) => {
    if (done) return;
    done = true;
    signal?.removeEventListener('abort', onAbort);
    cleanup();
    if (reply) resolve(reply);
    else reject(err);
  };
  const onAbort = () => finish(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return finish;
}
