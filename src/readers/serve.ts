/**
 * The built-in HTTP/1.1 server (rcu-protocol.md, "Servers"): GET/HEAD of `/REPO/PATH` from the
 * generation current when the request arrives (or the client's burst generation), `/REPO/@GEN/PATH`
 * from a pinned one, a path missing there from a generation still in its grace period. Every response
 * reads through a lease and from the CONCRETE snapshot path, never through `current`.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { listRepoNames } from '../engine/repo.js';
import { errnoCode } from '../util/errors.js';
import { EtagCache } from './etags.js';
import { contentType, escapeHtml, ifRangeHolds, noneMatchHit, notModifiedSince, parseRange, parseRequestPath } from './http-util.js';
import type { ParsedPath } from './http-util.js';
import { FileCache, contentId, makeCached } from './serve-cache.js';
import type { Cached } from './serve-cache.js';
import { ServeState } from './serve-state.js';
import { ServerLeases } from './server-leases.js';

/** Default bytes of file bodies kept in memory (per process); `--cache-mb` changes it. */
const CACHE_BYTES = 128 * 1024 * 1024;
/** Largest file kept in memory by default; larger ones are streamed from their open descriptor. */
const CACHE_MAX_FILE = 4 * 1024 * 1024;
const STREAM_CHUNK = 1024 * 1024;

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
}

export interface Server {
  address: AddressInfo;
  /** Hand over an accepted connection (noListen). */
  connection(socket: net.Socket): void;
  /** Stop accepting, finish in-flight requests, release leases. Resolves when drained. */
  drain(): Promise<{ requests: number; forced: number }>;
}

type Opened = { fh: FileHandle; st: fs.Stats; gen: number; rel: string };
type Parsed = ParsedPath & { relKey?: string };

/** What the access log needs, on the response itself (no closure or map entry per request). */
class Res extends http.ServerResponse<http.IncomingMessage> {
  t0 = 0;
  gen = -1;
  len = -1;
  client = '';
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

/** True when the request has a header that may change the answer for a file: If-*, Range. */
function conditional(req: http.IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const c = raw[i]!.charCodeAt(0) | 0x20;
    if (c === 0x69 /* i */ || c === 0x72 /* r */) {
      const k = raw[i]!.toLowerCase();
      if (k.startsWith('if-') || k === 'range') return true;
    }
  }
  return false;
}

let isoAt = 0;
let iso = '';
function isoNow(): string {
  const t = Date.now();
  if (t !== isoAt) {
    isoAt = t;
    iso = new Date(t).toISOString();
  }
  return iso;
}

export async function startServer(o: ServeOptions): Promise<Server> {
  const leases = new ServerLeases(o.layout);
  const state = new ServeState(o.layout, leases);
  const etags = new EtagCache();
  /** Directories checked to be real directories (not symlinks), per generation; snapshots are immutable. */
  const safeDirs = new Set<string>();
  const cacheBytes = o.cacheBytes ?? CACHE_BYTES;
  const cache = new FileCache(cacheBytes, Math.min(CACHE_MAX_FILE, cacheBytes));
  /** Parsed request targets (a pure function of the string). */
  const targets = new Map<string, Parsed>();
  /** Bodies being read into the cache, by content identity (concurrent misses read once). */
  const reading = new Map<string, Promise<Buffer | undefined>>();
  let draining = false;
  let requests = 0;
  /** Free STREAM_CHUNK buffers: streaming allocates (and page-faults) no fresh megabyte per chunk. */
  const chunks: Buffer[] = [];
  /** Connections handed over by a primary process (noListen). */
  const handed = new Set<net.Socket>();
  const log = o.log;

  function logFinish(this: Res): void {
    const req = this.req;
    const ms = performance.now() - this.t0;
    const len = req.method === 'HEAD' ? 0 : this.len < 0 ? '-' : this.len;
    log!(`${this.client || '-'} - - [${isoNow()}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${this.statusCode} ${len} "${rawHeader(req, 'referer') ?? '-'}" "${rawHeader(req, 'user-agent') ?? '-'}" gen=${this.gen < 0 ? '-' : this.gen} ${ms.toFixed(1)}ms\n`);
  }

  const server = http.createServer({ keepAlive: true, ServerResponse: Res }, (req, res0) => {
    const res = res0 as Res;
    requests++;
    if (log) {
      res.t0 = performance.now();
      res.on('finish', logFinish);
    }
    if (draining) res.shouldKeepAlive = false;
    const client = (res.client = req.socket.remoteAddress ?? '');
    try {
      if (fast(req, res, client)) return;
    } catch (e) {
      // Nothing sent yet: the slow path answers (and reports) whatever went wrong.
      if (res.headersSent) return void res.destroy(e as Error);
    }
    handle(req, res, client).catch((e: unknown) => {
      if (!res.headersSent) text(res, 500, `internal error: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  function target(url: string): Parsed {
    let p = targets.get(url);
    if (!p) {
      p = parseRequestPath(url);
      if (p.ok) p.relKey = p.rel.join('/');
      if (url.length <= 512) {
        if (targets.size >= 20_000) targets.clear();
        targets.set(url, p);
      }
    }
    return p;
  }

  /**
   * The synchronous path of a GET/HEAD whose file is in memory and whose generation is known without
   * waiting (client pinned, or a readlink of `current`) and already leased by this process. False: nothing
   * was sent, take handle().
   */
  function fast(req: http.IncomingMessage, res: Res, client: string): boolean {
    const m = req.method;
    if (m !== 'GET' && m !== 'HEAD') return false;
    const p = target(req.url ?? '/');
    if (!p.ok || p.repo === '' || p.rel.length === 0) return false;
    const now = Date.now();
    const info = state.repoNow(p.repo, now);
    if (!info) return false;
    const name = info.repo.name;
    const rel = p.relKey!;
    const gen = p.gen ?? state.resolveNow(info, client, rel, now);
    if (gen === undefined) return false;
    const c = cache.get(name, gen, rel);
    if (!c || !leases.tryAcquire(name, gen)) return false;
    try {
      res.gen = gen;
      if (p.gen === undefined) state.served(info, client, rel, gen);
      if (conditional(req)) sendCached(req, res, c);
      else {
        res.len = c.body.length;
        res.writeHead(200, c.head200);
        res.end(m === 'HEAD' ? undefined : c.body);
      }
    } finally {
      leases.release(name, gen);
    }
    return true;
  }

  function text(res: Res, status: number, body: string, extra: Record<string, string> = {}): void {
    res.len = Buffer.byteLength(body);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': res.len, ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** Open `rel` inside snapshots/GEN refusing symlinks on every component; undefined when absent. */
  async function openIn(repoName: string, gen: number, rel: string[]): Promise<Opened | undefined | 'refused'> {
    const root = o.layout.repo(repoName).snapshotDir(gen);
    for (let i = 1; i < rel.length; i++) {
      const dir = path.join(root, ...rel.slice(0, i));
      if (safeDirs.has(dir)) continue;
      let st;
      try {
        st = await fsp.lstat(dir);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
        throw e;
      }
      if (!st.isDirectory()) return st.isSymbolicLink() ? 'refused' : undefined;
      if (safeDirs.size > 100_000) safeDirs.clear();
      safeDirs.add(dir);
    }
    let fh: FileHandle;
    try {
      fh = await fsp.open(path.join(root, ...rel), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') return undefined;
      if (c === 'ELOOP') return 'refused';
      throw e;
    }
    try {
      return { fh, st: await fh.stat(), gen, rel: rel.join('/') };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  async function handle(req: http.IncomingMessage, res: Res, client: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    const parsed = target(req.url ?? '/');
    if (!parsed.ok) return text(res, parsed.status, `${parsed.reason}\n`);
    if (parsed.repo === '') return listing(res, 'repositories', await listRepoNames(o.layout), '/');
    const info = await state.repo(parsed.repo);
    if (!info) return text(res, 404, `no repository named '${parsed.repo}'\n`);
    const name = info.repo.name;
    const relKey = parsed.relKey!;

    // Lease a generation (reader protocol: lease, then validate; on failure resolve again).
    let gen: number | undefined;
    for (let attempt = 0; attempt < 5 && gen === undefined; attempt++) {
      const g = parsed.gen ?? (await state.resolve(info, client, relKey));
      if (g === undefined) return text(res, 404, `repository '${name}' has no current generation\n`);
      if (await leases.acquire(name, g)) gen = g;
      else if (parsed.gen !== undefined) {
        const cur = await readCurrent(info.repo);
        return text(res, 404, `generation ${g} of '${name}' has been reaped (or is being reaped); the current generation is ${cur ?? 'none'}\n`);
      } else state.drop(client, name, relKey);
    }
    if (gen === undefined) return text(res, 503, `could not lease a generation of '${name}'; retry\n`, { 'Retry-After': '1' });
    const held: number[] = [gen];
    const releaseAll = () => held.splice(0).forEach((g) => leases.release(name, g));
    try {
      const hit = cache.get(name, gen, relKey);
      if (hit) {
        res.gen = gen;
        if (parsed.gen === undefined) state.served(info, client, relKey, gen);
        return sendCached(req, res, hit);
      }
      let opened = await openIn(name, gen, parsed.rel);
      if (opened === undefined && parsed.gen === undefined) {
        // Missing here: a client that read an older index may ask for a file only an older (graced)
        // generation has, or a newer one only current has.
        const cur = await readCurrent(info.repo);
        // Also the generations this client is pinned to: a client that read an index from one of them
        // asks for that index's files, even when several clients share one address.
        const graced = cur !== undefined ? await state.graced(info, cur) : [];
        const candidates = [...new Set([...(cur !== undefined ? [cur] : []), ...state.pinnedGenerations(client, name), ...graced])].filter((g) => g !== gen);
        for (const g of candidates) {
          if (!(await leases.acquire(name, g))) continue;
          held.push(g);
          opened = await openIn(name, g, parsed.rel);
          if (opened !== undefined) break;
        }
      }
      if (opened === 'refused') return text(res, 403, 'refusing to follow a symbolic link\n');
      if (opened === undefined) return text(res, 404, `not found in generation ${gen} of '${name}': /${relKey}\n`, { 'X-Rcurepo-Generation': String(gen) });
      res.gen = opened.gen;
      if (parsed.gen === undefined && opened.st.isFile()) state.served(info, client, opened.rel, opened.gen);
      try {
        await send(req, res, info.repo, opened, parsed.rel.length === 0 ? `/${name}/` : req.url ?? '/');
      } finally {
        await opened.fh.close().catch(() => undefined);
      }
    } finally {
      releaseAll();
    }
  }

  function listing(res: Res, title: string, names: string[], base: string): void {
    const items = names.map((n) => `<li><a href="${escapeHtml(base + encodeURIComponent(n).replace(/%2F/g, '/'))}">${escapeHtml(n)}</a></li>`).join('\n');
    const body = `<!doctype html>\n<title>${escapeHtml(title)}</title>\n<h1>${escapeHtml(title)}</h1>\n<ul>\n${items}\n</ul>\n`;
    res.len = Buffer.byteLength(body);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': res.len });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** The whole file, read with positional reads; undefined when it did not read to its stat size. */
  async function readWhole(f: Opened): Promise<Buffer | undefined> {
    const size = f.st.size;
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await f.fh.read(buf, pos, size - pos, pos);
      if (bytesRead === 0) return undefined;
      pos += bytesRead;
    }
    return buf;
  }

  /** The file as a cache entry: its body read once per content (shared across generations). */
  async function load(repo: ReturnType<Layout['repo']>, f: Opened): Promise<Cached | undefined> {
    const id = contentId(f.st);
    let body = cache.body(id);
    if (!body) {
      let p = reading.get(id);
      if (!p) {
        p = readWhole(f).finally(() => reading.delete(id));
        reading.set(id, p);
      }
      body = await p;
      if (!body) return undefined;
    }
    const etag = await etags.etag(repo, f.gen, f.rel, f.fh, f.st);
    const c = makeCached(repo.name, f.gen, f.rel, body, etag, f.st.mtimeMs, contentType(path.basename(f.rel)));
    cache.set(c, id);
    return c;
  }

  async function send(req: http.IncomingMessage, res: Res, repo: ReturnType<Layout['repo']>, f: Opened, url: string): Promise<void> {
    const genHeader = { 'X-Rcurepo-Generation': String(f.gen) };
    if (f.st.isDirectory()) {
      const u = url.split('?')[0]!;
      if (!u.endsWith('/')) {
        res.len = 0;
        res.writeHead(301, { Location: `${u}/`, 'Content-Length': 0, ...genHeader });
        return void res.end();
      }
      const ents = await fsp.readdir(path.join(repo.snapshotDir(f.gen), f.rel), { withFileTypes: true });
      res.setHeader('X-Rcurepo-Generation', String(f.gen));
      return listing(res, `${repo.name}/${f.rel}`, ents.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort(), '');
    }
    if (!f.st.isFile()) return text(res, 403, 'not a regular file\n', genHeader);
    if (cache.fits(f.st.size)) {
      const c = await load(repo, f);
      if (c) return sendCached(req, res, c);
    }
    const size = f.st.size;
    const etag = await etags.etag(repo, f.gen, f.rel, f.fh, f.st);
    const lastModified = new Date(f.st.mtimeMs).toUTCString();
    const headers: Record<string, string | number> = {
      ...genHeader,
      ETag: etag,
      'Last-Modified': lastModified,
      'Accept-Ranges': 'bytes',
      'Content-Type': contentType(path.basename(f.rel)),
    };
    const inm = req.headers['if-none-match'];
    if (inm !== undefined ? noneMatchHit(inm, etag) : notModifiedSince(req.headers['if-modified-since'], f.st.mtimeMs)) {
      res.writeHead(304, { ...genHeader, ETag: etag, 'Last-Modified': lastModified });
      return void res.end();
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = ifRangeHolds(req.headers['if-range'] as string | undefined, etag, f.st.mtimeMs) ? parseRange(req.headers.range, size) : { kind: 'none' as const };
    if (range.kind === 'unsatisfiable') {
      return text(res, 416, `range not satisfiable (size ${size})\n`, { ...genHeader, 'Content-Range': `bytes */${size}`, ETag: etag });
    }
    if (range.kind === 'range') {
      ({ start, end } = range);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = end - start + 1;
    headers['Content-Length'] = length;
    res.len = length;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || length === 0) return void res.end();
    await stream(res, f.fh, start, end + 1);
  }

  /**
   * Bytes [start, stop) of the open file to the response, in large positional reads, the next read
   * running while the previous chunk drains. Resolves once the response finished or the client went
   * away: the caller keeps the descriptor open and the lease held until then.
   */
  async function stream(res: Res, fh: FileHandle, start: number, stop: number): Promise<void> {
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    let gone = false;
    void closed.then(() => (gone = true));
    const chunk = async (pos: number): Promise<Buffer> => {
      const n = Math.min(STREAM_CHUNK, stop - pos);
      const whole = chunks.pop() ?? Buffer.allocUnsafeSlow(STREAM_CHUNK);
      const buf = n === STREAM_CHUNK ? whole : whole.subarray(0, n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
        if (bytesRead === 0) throw new Error('file shorter than its size');
        got += bytesRead;
      }
      return buf;
    };
    // Back to the pool once the socket took the bytes (not before: a pending write still reads them).
    const recycle = (buf: Buffer) => () => {
      if (chunks.length < 8) chunks.push(buf.length === STREAM_CHUNK ? buf : Buffer.from(buf.buffer, buf.byteOffset, STREAM_CHUNK));
    };
    try {
      let pos = start;
      let next: Promise<Buffer> | undefined = chunk(pos);
      while (next && !gone) {
        const buf: Buffer = await next;
        pos += buf.length;
        next = pos < stop ? chunk(pos) : undefined;
        next?.catch(() => undefined); // awaited (or abandoned when the client left) below
        if (gone) break;
        if (!res.write(buf, recycle(buf))) await Promise.race([new Promise<void>((r) => res.once('drain', r)), closed]);
      }
      if (!gone) res.end();
      if (next) await next.catch(() => undefined); // no read in flight once the descriptor closes
    } catch {
      res.destroy(); // a short read or an I/O error mid-body: the client must not take it as complete
    }
    await closed;
  }

  /** Answer from a cache entry: same conditional and range rules as send(). */
  function sendCached(req: http.IncomingMessage, res: Res, c: Cached): void {
    const size = c.body.length;
    const inm = req.headers['if-none-match'];
    if (inm !== undefined ? noneMatchHit(inm, c.etag) : notModifiedSince(req.headers['if-modified-since'], c.mtimeMs)) {
      res.writeHead(304, c.head304);
      return void res.end();
    }
    const range = ifRangeHolds(req.headers['if-range'] as string | undefined, c.etag, c.mtimeMs) ? parseRange(req.headers.range, size) : { kind: 'none' as const };
    if (range.kind === 'unsatisfiable') return text(res, 416, `range not satisfiable (size ${size})\n`, { 'X-Rcurepo-Generation': String(c.gen), 'Content-Range': `bytes */${size}`, ETag: c.etag });
    if (range.kind === 'none') {
      res.len = size;
      res.writeHead(200, c.head200);
      return void res.end(req.method === 'HEAD' ? undefined : c.body);
    }
    const body = c.body.subarray(range.start, range.end + 1);
    res.len = body.length;
    res.writeHead(206, ['X-Rcurepo-Generation', String(c.gen), 'ETag', c.etag, 'Last-Modified', c.lastModified, 'Accept-Ranges', 'bytes', 'Content-Type', c.type, 'Content-Range', `bytes ${range.start}-${range.end}/${size}`, 'Content-Length', String(body.length)]);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

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
