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
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { listRepoNames } from '../engine/repo.js';
import { errnoCode } from '../util/errors.js';
import { EtagCache } from './etags.js';
import { contentType, escapeHtml, ifRangeHolds, noneMatchHit, notModifiedSince, parseRange, parseRequestPath } from './http-util.js';
import { ServeState } from './serve-state.js';
import { ServerLeases } from './server-leases.js';

const SMALL = 64 * 1024;
/** Bytes of small files kept in memory. Correct without invalidation: (generation, path) never changes. */
const CACHE_BYTES = 64 * 1024 * 1024;

interface Cached {
  body: Buffer;
  etag: string;
  mtimeMs: number;
}

export interface ServeOptions {
  layout: Layout;
  host: string;
  port: number;
  /** Access log lines go here (undefined: no log). */
  log?: (line: string) => void;
  /** Seconds to let in-flight requests finish after SIGTERM before closing connections. */
  drainSeconds?: number;
}

export interface Server {
  address: AddressInfo;
  /** Stop accepting, finish in-flight requests, release leases. Resolves when drained. */
  drain(): Promise<{ requests: number; forced: number }>;
}

type Opened = { fh: FileHandle; st: fs.Stats; gen: number; rel: string };

export async function startServer(o: ServeOptions): Promise<Server> {
  const leases = new ServerLeases(o.layout);
  const state = new ServeState(o.layout, leases);
  const etags = new EtagCache();
  /** Directories checked to be real directories (not symlinks), per generation; snapshots are immutable. */
  const safeDirs = new Set<string>();
  const small = new Map<string, Cached>();
  let smallBytes = 0;
  let draining = false;
  /** Body length per response, for the access log (writeHead with an object bypasses getHeader). */
  const lengths = new WeakMap<http.ServerResponse, number>();
  let requests = 0;

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    requests++;
    const t0 = process.hrtime.bigint();
    const meta: { gen?: number } = {};
    if (draining) res.shouldKeepAlive = false;
    res.on('finish', () => {
      if (!o.log) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const len = req.method === 'HEAD' ? 0 : (lengths.get(res) ?? '-');
      o.log(`${req.socket.remoteAddress ?? '-'} - - [${new Date().toISOString()}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} ${len} "${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}" gen=${meta.gen ?? '-'} ${ms.toFixed(1)}ms\n`);
    });
    handle(req, res, (g) => (meta.gen = g)).catch((e: unknown) => {
      if (!res.headersSent) text(res, 500, `internal error: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;

  function text(res: http.ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
    lengths.set(res, Buffer.byteLength(body));
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
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
    return { fh, st: await fh.stat(), gen, rel: rel.join('/') };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, noteGen: (g: number) => void): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    const parsed = parseRequestPath(req.url ?? '/');
    if (!parsed.ok) return text(res, parsed.status, `${parsed.reason}\n`);
    if (parsed.repo === '') return listing(res, 'repositories', await listRepoNames(o.layout), '/');
    const info = await state.repo(parsed.repo);
    if (!info) return text(res, 404, `no repository named '${parsed.repo}'\n`);
    const client = req.socket.remoteAddress ?? '';
    const name = info.repo.name;

    // Lease a generation (reader protocol: lease, then validate; on failure resolve again).
    let gen: number | undefined;
    for (let attempt = 0; attempt < 5 && gen === undefined; attempt++) {
      const g = parsed.gen ?? (await state.resolve(info, client, parsed.rel.join('/')));
      if (g === undefined) return text(res, 404, `repository '${name}' has no current generation\n`);
      if (await leases.acquire(name, g)) gen = g;
      else if (parsed.gen !== undefined) {
        const cur = await readCurrent(info.repo);
        return text(res, 404, `generation ${g} of '${name}' has been reaped (or is being reaped); the current generation is ${cur ?? 'none'}\n`);
      } else state.drop(client, name, parsed.rel.join('/'));
    }
    if (gen === undefined) return text(res, 503, `could not lease a generation of '${name}'; retry\n`, { 'Retry-After': '1' });
    const held: number[] = [gen];
    const releaseAll = () => held.splice(0).forEach((g) => leases.release(name, g));
    try {
      const hit = small.get(`${name}\0${gen}\0${parsed.rel.join('/')}`);
      if (hit) {
        noteGen(gen);
        if (parsed.gen === undefined) await state.served(info, client, parsed.rel.join('/'), gen);
        return sendBuffer(req, res, gen, parsed.rel, hit);
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
      if (opened === undefined) return text(res, 404, `not found in generation ${gen} of '${name}': /${parsed.rel.join('/')}\n`, { 'X-Rcurepo-Generation': String(gen) });
      noteGen(opened.gen);
      if (parsed.gen === undefined && opened.st.isFile()) await state.served(info, client, opened.rel, opened.gen);
      try {
        await send(req, res, info.repo, opened, parsed.rel.length === 0 ? `/${name}/` : req.url ?? '/');
      } finally {
        await opened.fh.close().catch(() => undefined);
      }
    } finally {
      releaseAll();
    }
  }

  function listing(res: http.ServerResponse, title: string, names: string[], base: string): void {
    const items = names.map((n) => `<li><a href="${escapeHtml(base + encodeURIComponent(n).replace(/%2F/g, '/'))}">${escapeHtml(n)}</a></li>`).join('\n');
    const body = `<!doctype html>\n<title>${escapeHtml(title)}</title>\n<h1>${escapeHtml(title)}</h1>\n<ul>\n${items}\n</ul>\n`;
    lengths.set(res, Buffer.byteLength(body));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  async function send(req: http.IncomingMessage, res: http.ServerResponse, repo: ReturnType<Layout['repo']>, f: Opened, url: string): Promise<void> {
    const genHeader = { 'X-Rcurepo-Generation': String(f.gen) };
    if (f.st.isDirectory()) {
      const u = url.split('?')[0]!;
      if (!u.endsWith('/')) {
        res.writeHead(301, { Location: `${u}/`, 'Content-Length': 0, ...genHeader });
        return void res.end();
      }
      const ents = await fsp.readdir(path.join(repo.snapshotDir(f.gen), f.rel), { withFileTypes: true });
      res.setHeader('X-Rcurepo-Generation', String(f.gen));
      return listing(res, `${repo.name}/${f.rel}`, ents.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort(), '');
    }
    if (!f.st.isFile()) return text(res, 403, 'not a regular file\n', genHeader);
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
    lengths.set(res, length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || length === 0) return void res.end();
    if (size <= SMALL) {
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await f.fh.read(buf, 0, size, 0);
      if (bytesRead === size) remember(`${repo.name}\0${f.gen}\0${f.rel}`, { body: buf, etag, mtimeMs: f.st.mtimeMs });
      return void res.end(buf.subarray(start, end + 1));
    }
    const rs = f.fh.createReadStream({ start, end, autoClose: false, highWaterMark: 512 * 1024 });
    try {
      await pipeline(rs, res);
    } catch (e) {
      // The client went away mid-body: nothing to answer any more.
      if (errnoCode(e) !== 'ERR_STREAM_PREMATURE_CLOSE' && errnoCode(e) !== 'ECONNRESET' && errnoCode(e) !== 'EPIPE') throw e;
    }
  }

  function remember(key: string, c: Cached): void {
    small.set(key, c);
    smallBytes += c.body.length;
    for (const [k, v] of small) {
      if (smallBytes <= CACHE_BYTES) break;
      small.delete(k);
      smallBytes -= v.body.length;
    }
  }

  /** Answer from a cached small file: same conditional and range rules as send(). */
  function sendBuffer(req: http.IncomingMessage, res: http.ServerResponse, gen: number, rel: string[], c: Cached): void {
    const size = c.body.length;
    const lastModified = new Date(c.mtimeMs).toUTCString();
    const genHeader = { 'X-Rcurepo-Generation': String(gen) };
    const inm = req.headers['if-none-match'];
    if (inm !== undefined ? noneMatchHit(inm, c.etag) : notModifiedSince(req.headers['if-modified-since'], c.mtimeMs)) {
      res.writeHead(304, { ...genHeader, ETag: c.etag, 'Last-Modified': lastModified });
      return void res.end();
    }
    const range = ifRangeHolds(req.headers['if-range'] as string | undefined, c.etag, c.mtimeMs) ? parseRange(req.headers.range, size) : { kind: 'none' as const };
    if (range.kind === 'unsatisfiable') return text(res, 416, `range not satisfiable (size ${size})\n`, { ...genHeader, 'Content-Range': `bytes */${size}`, ETag: c.etag });
    const headers: Record<string, string | number> = { ...genHeader, ETag: c.etag, 'Last-Modified': lastModified, 'Accept-Ranges': 'bytes', 'Content-Type': contentType(rel[rel.length - 1] ?? '') };
    let body = c.body;
    let status = 200;
    if (range.kind === 'range') {
      status = 206;
      headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
      body = c.body.subarray(range.start, range.end + 1);
    }
    headers['Content-Length'] = body.length;
    lengths.set(res, body.length);
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    address: server.address() as AddressInfo,
    async drain() {
      draining = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
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
}
