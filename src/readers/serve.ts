/**
 * The built-in HTTP/1.1 server (rcu-protocol.md, "Servers"): GET/HEAD of `/REPO/PATH` from the
 * generation current when the request arrives (or the client's burst generation), `/REPO/@GEN/PATH`
 * from a pinned one, a path missing there from a generation still in its grace period. Every response
 * reads through a lease and from the CONCRETE snapshot path, never through `current`.
 *
 * This module is the wiring: options, the http server, the access log, listening and draining. Which
 * generation and file a request reads is serve-handler.ts's; opening and sending files serve-files.ts's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import { emitEvent } from '../util/event-log.js';
import { ServeMetrics } from './serve-metrics.js';
import { clientResolver } from './trust-proxy.js';
import type { Layout } from '../engine/layout.js';
import { FileCache } from './serve-cache.js';
import { Res, fileSender, text } from './serve-files.js';
import { requestHandler } from './serve-handler.js';
import { ServeState } from './serve-state.js';
import { ServerLeases } from './server-leases.js';

/** Default bytes of file bodies kept in memory (per process); `--cache-mb` changes it. */
const CACHE_BYTES = 128 * 1024 * 1024;
/** Largest file kept in memory by default; larger ones are streamed from their open descriptor. */
const CACHE_MAX_FILE = 4 * 1024 * 1024;

export interface ServeOptions {
  layout: Layout;
  host: string;
  port: number;
  /** Access log lines go here (undefined: no log). Called once per response: buffer it. */
  log?: (line: string) => void;
  /** Seconds to let in-flight requests finish after SIGTERM before closing connections. */
  drainSeconds?: number;
  /** Bytes of file bodies kept in memory (default 128 MiB; 0: none). */
  cacheBytes?: number;
  /**
   * Do not listen: connections arrive through the returned server's `connection()` (a worker fed by a
   * primary process that accepts them).
   */
  noListen?: boolean;
  /** `--trust-proxy`: the proxies whose Forwarded / X-Forwarded-For name the client. */
  trustProxy?: net.BlockList;
}

export interface Server {
  address: AddressInfo;
  /** Hand over an accepted connection (noListen). */
  connection(socket: net.Socket): void;
  /** Stop accepting, finish in-flight requests, release leases. Resolves when drained. */
  drain(): Promise<{ requests: number; forced: number }>;
}

/** The first value of a request header by its lower-case name, from rawHeaders (req.headers is built lazily). */
function rawHeader(req: http.IncomingMessage, lower: string): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === lower.length && k.toLowerCase() === lower) return raw[i + 1];
  }
  return undefined;
}

let isoAt = 0;
let iso = '';
let isoSecond = -1;
let isoPrefix = '';
/** The access log's time, ISO 8601 with milliseconds: the date formatted once a second, the milliseconds appended. */
function isoNow(): string {
  const t = Date.now();
  if (t !== isoAt) {
    isoAt = t;
    const s = Math.floor(t / 1000);
    if (s !== isoSecond) {
      isoSecond = s;
      isoPrefix = new Date(s * 1000).toISOString().slice(0, 20); // 2026-11-30T09:26:48.
    }
    const ms = t - s * 1000;
    iso = `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
  }
  return iso;
}

export async function startServer(o: ServeOptions): Promise<Server> {
  const leases = new ServerLeases(o.layout);
  const state = new ServeState(o.layout, leases);
  const cacheBytes = o.cacheBytes ?? CACHE_BYTES;
  const cache = new FileCache(cacheBytes, Math.min(CACHE_MAX_FILE, cacheBytes));
  const metrics = new ServeMetrics(o.layout);
  const { fast, handle } = requestHandler({ layout: o.layout, state, leases, cache, files: fileSender(o.layout, cache), metrics });
  const clientOf = clientResolver(o.trustProxy);
  let draining = false;
  let requests = 0;
  /** Connections handed over by a primary process (noListen). */
  const handed = new Set<net.Socket>();
  const log = o.log;

  function onFinish(this: Res): void {
    const req = this.req;
    const ms = performance.now() - this.t0;
    metrics.record(this.repo, this.statusCode, req.method === 'HEAD' ? 0 : this.len, ms / 1000);
    if (!log) return;
    const len = req.method === 'HEAD' ? 0 : this.len < 0 ? '-' : this.len;
    log(`${this.client || '-'} - - [${isoNow()}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${this.statusCode} ${len} "${rawHeader(req, 'referer') ?? '-'}" "${rawHeader(req, 'user-agent') ?? '-'}" gen=${this.gen < 0 ? '-' : this.gen} ${ms.toFixed(1)}ms\n`);
  }

  const server = http.createServer({ keepAlive: true, ServerResponse: Res }, (req, res0) => {
    const res = res0 as Res;
    requests++;
    res.t0 = performance.now();
    res.on('finish', onFinish);
    if (draining) res.shouldKeepAlive = false;
    const peer = req.socket.remoteAddress ?? '';
    const client = (res.client = o.trustProxy ? clientOf(peer, (h) => rawHeader(req, h)) : peer);
    try {
      if (fast(req, res, client)) return;
    } catch (e) {
      // Nothing sent yet: the slow path answers (and reports) whatever went wrong.
      if (res.headersSent) return void res.destroy(e as Error);
    }
    handle(req, res, client).catch((e: unknown) => {
      // The message may name server paths: it goes to the operator's event log, never to the client.
      emitEvent('serve', { event: 'request-error', outcome: 'failed', repo: res.repo || undefined, generation: res.gen < 0 ? undefined : res.gen, client, method: req.method, url: req.url, error: (e as Error)?.message ?? String(e) });
      if (!res.headersSent) text(res, 500, 'internal error (logged on the server)\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  if (!o.noListen) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  return {
    address: o.noListen ? { address: o.host, family: o.host.includes(':') ? 'IPv6' : 'IPv4', port: o.port } : (server.address() as AddressInfo),
    connection(socket: net.Socket) {
      if (draining) return void socket.destroy();
      handed.add(socket);
      socket.once('close', () => handed.delete(socket));
      server.emit('connection', socket);
      socket.resume();
    },
    async drain() {
      draining = true;
      const closed = o.noListen ? waitIdle() : new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      // Keep-alive sockets become idle after their in-flight response; close them as they do.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      let forced = 0;
      const deadline = setTimeout(() => {
        forced = 1;
        server.closeAllConnections();
      }, (o.drainSeconds ?? 30) * 1000);
      await closed;
      clearInterval(idle);
      clearTimeout(deadline);
      state.close();
      await leases.close();
      return { requests, forced };
    },
  };

  /** A server that never listened cannot close(): wait until none of the handed connections is open. */
  function waitIdle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = () => {
        if (handed.size > 0) return;
        clearInterval(t);
        resolve();
      };
      const t = setInterval(check, 50);
      check();
    });
  }
}
