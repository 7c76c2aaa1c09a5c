/**
 * `--trust-proxy ADDR[,CIDR...]`: behind a reverse proxy or CDN every request arrives from the proxy's
 * address, so per-client generation pinning would treat all clients as one. When the peer is one of the
 * configured proxies, the client is taken from `Forwarded: for=` (RFC 7239) or `X-Forwarded-For`; from
 * any other peer those headers are ignored (anyone can send them). Walking the list from the right and
 * skipping trusted hops means a client cannot choose its own identity by prepending entries.
 */
import net from 'node:net';
import { RcuError } from '../util/errors.js';

export type ClientOf = (peer: string, header: (lowerName: string) => string | undefined) => string;

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) as `1.2.3.4`, so one rule matches both. */
function plain(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}

export function parseTrustProxy(spec: string | undefined): net.BlockList | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const list = new net.BlockList();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [addr, bits, extra] = item.split('/');
    const type = net.isIPv4(addr!) ? 'ipv4' : net.isIPv6(addr!) ? 'ipv6' : undefined;
    const max = type === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : /^[0-9]{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!type || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
      throw new RcuError('USAGE', `--trust-proxy takes addresses or CIDR ranges separated by commas (e.g. 127.0.0.1,10.0.0.0/8,::1), not '${item}'`);
    }
    list.addSubnet(addr!, prefix, type);
  }
  return list;
}

function trusted(list: net.BlockList, addr: string): boolean {
  const a = plain(addr);
  const type = net.isIPv4(a) ? 'ipv4' : net.isIPv6(a) ? 'ipv6' : undefined;
  return type !== undefined && list.check(a, type);
}

/** One `for=` value or X-Forwarded-For item as an address: quotes, brackets and a port removed. */
function hopAddress(v: string): string | undefined {
  let s = v.trim().replace(/^"|"$/g, '');
  if (s.startsWith('[')) s = s.slice(1, s.indexOf(']') < 0 ? undefined : s.indexOf(']'));
  else if (net.isIPv4(s.split(':')[0]!) && s.split(':').length === 2) s = s.split(':')[0]!;
  s = plain(s);
  return net.isIP(s) ? s : undefined;
}

function forwardedHops(h: string): string[] {
  const out: string[] = [];
  for (const element of h.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') out.push(pair.slice(eq + 1));
    }
  }
  return out;
}

/** The client address of a request: the peer, or what a trusted proxy says the client was. */
export function clientResolver(list: net.BlockList | undefined): ClientOf {
  if (!list) return (peer) => peer;
  return (peer, header) => {
    if (!trusted(list, peer)) return peer;
    const fwd = header('forwarded');
    const hops = fwd !== undefined ? forwardedHops(fwd) : (header('x-forwarded-for') ?? '').split(',');
    // Rightmost first: the hop the trusted proxy itself added; skip further trusted proxies.
    let last = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const a = hopAddress(hops[i]!);
      if (a === undefined) return last; // an unparsable hop ("unknown", garbage): nothing to its left is trustworthy
      if (!trusted(list, a)) return a;
      last = a;
    }
    return last;
  };
}
