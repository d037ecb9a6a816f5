import { isIP } from 'node:net';
import { configError } from '../errors.js';

/** A DNS server address. `host` is an IP literal or a host name (IPv6 without brackets). */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address is accepted too. */
export function parseHostPort(input: string, defaultPort = 53): HostPort {
  const text = input.trim();
  const fail = (why: string) =>
    configError(`invalid server "${text}": ${why}`, 'use HOST, HOST:PORT or [IPv6]:PORT');
  if (text === '') throw fail('empty');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw fail('missing "]"');
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw fail('unexpected text after "]"');
    portText = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) throw fail('brackets must hold an IPv6 address');
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) throw fail('IPv6 addresses with a port need brackets');
    host = colon >= 0 ? text.slice(0, colon) : text;
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw fail('bad host name');
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw fail('port must be a number');
    port = Number(portText);
  }
  if (port < 1 || port > 65535) throw fail('port must be 1-65535');
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
