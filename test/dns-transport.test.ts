import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { query, txtValues } from '../src/dns/query.js';

/** A scripted UDP "server": `onQuery` decides what to send back for each message it gets. */
async function fakeUdp(
  onQuery: (msg: Buffer, n: number, reply: (buf: Buffer, from?: Socket) => void) => void,
) {
  const sock = createSocket('udp4');
  const other = createSocket('udp4');
  let n = 0;
  sock.on('message', (msg, rinfo) => {
    onQuery(msg, n++, (buf, from = sock) => from.send(buf, rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, other, count: () => n, close: () => (sock.close(), other.close()) };
}

function answer(msg: Buffer, values: string[], flags = dnsPacket.AUTHORITATIVE_ANSWER): Buffer {
  const q = dnsPacket.decode(msg);
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags,
    questions: q.questions,
    answers: values.map((v) => ({ type: 'TXT' as const, name: q.questions![0]!.name, ttl: 60, data: v })),
  });
}

describe('raw DNS queries', () => {
  it('retries a lost UDP packet and ignores replies with a wrong ID or from another port', async () => {
    const srv = await fakeUdp((msg, n, reply) => {
      if (n === 0) return; // lost
      const forged = answer(msg, ['forged']);
      reply(forged, srv.other); // right ID, wrong source port
      const wrongId = Buffer.from(forged);
      wrongId.writeUInt16BE((msg.readUInt16BE(0) + 1) & 0xffff, 0);
      reply(wrongId);
      setTimeout(() => reply(answer(msg, ['genuine'])), 20);
    });
    try {
      const res = await query({ host: '127.0.0.1', port: srv.port }, 'x.example.test', 'TXT', {
        rd: false,
        timeoutMs: 150,
      });
      assert.deepEqual(txtValues(res, 'x.example.test'), ['genuine']);
      assert.equal(srv.count(), 2);
      assert.equal(res.aa, true);
    } finally {
      srv.close();
    }
  });

  it('gives up after the configured tries with a clear error', async () => {
    const srv = await fakeUdp(() => undefined);
    try {
      await assert.rejects(
        query({ host: '127.0.0.1', port: srv.port }, 'x.example.test', 'TXT', { timeoutMs: 50, attempts: 2 }),
        new RegExp(`no answer from DNS server 127\\.0\\.0\\.1:${srv.port} over UDP after 2 tries of 50 ms`),
      );
      assert.equal(srv.count(), 2);
    } finally {
      srv.close();
    }
  });

  it('repeats a truncated UDP answer over TCP on the same port', async () => {
    const udp = await fakeUdp((msg, _n, reply) => reply(answer(msg, [], dnsPacket.TRUNCATED_RESPONSE)));
    const tcp: Server = createServer((conn) => {
      conn.once('data', (data) => {
        const msg = data.subarray(2, 2 + data.readUInt16BE(0));
        const body = answer(msg, ['over-tcp']);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        conn.end(Buffer.concat([len, body]));
      });
    });
    await new Promise<void>((r) => tcp.listen(udp.port, '127.0.0.1', () => r()));
    try {
      const res = await query({ host: '127.0.0.1', port: udp.port }, 'x.example.test', 'TXT');
      assert.deepEqual(txtValues(res, 'x.example.test'), ['over-tcp']);
    } finally {
      udp.close();
      tcp.close();
    }
  });

  it('rejects an answer to another question', async () => {
    const srv = await fakeUdp((msg, _n, reply) => {
      const q = dnsPacket.decode(msg);
      reply(
        dnsPacket.encode({ type: 'response', id: q.id, questions: [{ type: 'TXT', name: 'other.test' }] }),
      );
    });
    try {
      await assert.rejects(
        query({ host: '127.0.0.1', port: srv.port }, 'x.example.test', 'TXT'),
        /does not match the question/,
      );
    } finally {
      srv.close();
    }
  });
});
