/**
 * Writing the HTTP server's answers (serve.ts): a snapshot file opened refusing symlinks, then sent from
 * the in-memory cache or streamed from its descriptor with positional reads, under the same conditional
 * and Range rules either way; directory listings and plain-text answers. Which generation a request
 * reads, and its lease, are serve-handler.ts's: everything here runs while that lease is held.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { errnoCode } from '../util/errors.js';
import { EtagCache } from './etags.js';
import { contentType, ifRangeHolds, noneMatchHit, notModifiedSince, parseRange } from './http-util.js';
import { contentId, makeCached } from './serve-cache.js';
import type { Cached, FileCache } from './serve-cache.js';

const STREAM_CHUNK = 1024 * 1024;

export type Opened = { fh: FileHandle; st: fs.Stats; gen: number; rel: string };
/** undefined: absent; 'refused': a symlink on the way; 'special': neither a regular file nor a directory. */
export type OpenResult = Opened | undefined | 'refused' | 'special';

/**
 * Errors that mean "no such file here" for a request path: missing, a file where a folder was expected,
 * or a name longer than the filesystem allows (which no snapshot can hold, so it is absent, not a fault).
 */
function absent(e: unknown): boolean {
  const c = errnoCode(e);
  return c === 'ENOENT' || c === 'ENOTDIR' || c === 'ENAMETOOLONG';
}

/** What the access log needs, on the response itself (no closure or map entry per request). */
export class Res extends http.ServerResponse<http.IncomingMessage> {
  t0 = 0;
  /** The repository answered from ('' until one is known: metrics label). */
  repo = '';
  gen = -1;
  len = -1;
  client = '';
}

export function text(res: Res, status: number, body: string, extra: Record<string, string> = {}): void {
  res.len = Buffer.byteLength(body);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': res.len, ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Answer from a cache entry: same conditional and range rules as send(). */
export function sendCached(req: http.IncomingMessage, res: Res, c: Cached): void {
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

export interface FileSender {
  /** Open `rel` inside snapshots/GEN refusing symlinks on every component; undefined when absent. */
  openIn(repoName: string, gen: number, rel: string[]): Promise<OpenResult>;
  /** The opened file or directory as the response; the caller closes the descriptor afterwards. */
  send(req: http.IncomingMessage, res: Res, repo: RepoLayout, f: Opened): Promise<void>;
}

/**
 * Opening and sending files for one server. Its state lives as long as the server: the directories
 * found safe, the ETags, the bodies being read and the stream buffers are shared by all its requests.
 */
export function fileSender(layout: Layout, cache: FileCache): FileSender {
  const etags = new EtagCache();
  /** Directories checked to be real directories (not symlinks), per generation; snapshots are immutable. */
  const safeDirs = new Set<string>();
  /** Bodies being read into the cache, by content identity (concurrent misses read once). */
  const reading = new Map<string, Promise<Buffer | undefined>>();
  /** Free STREAM_CHUNK buffers: streaming allocates (and page-faults) no fresh megabyte per chunk. */
  const chunks: Buffer[] = [];

  async function openIn(repoName: string, gen: number, rel: string[]): Promise<OpenResult> {
    const root = layout.repo(repoName).snapshotDir(gen);
    for (let i = 1; i < rel.length; i++) {
      const dir = path.join(root, ...rel.slice(0, i));
      if (safeDirs.has(dir)) continue;
      let st;
      try {
        st = await fsp.lstat(dir);
      } catch (e) {
        if (absent(e)) return undefined;
        throw e;
      }
      if (!st.isDirectory()) return st.isSymbolicLink() ? 'refused' : undefined;
      if (safeDirs.size > 100_000) safeDirs.clear();
      safeDirs.add(dir);
    }
    // Only regular files and directories are ever opened. A FIFO (or device) planted in a snapshot would
    // block open() in the thread pool until a writer appears, and a few such requests would take every
    // pool thread and freeze the server: lstat first, and open without blocking in case it was swapped.
    const full = path.join(root, ...rel);
    let pre: fs.Stats;
    try {
      pre = await fsp.lstat(full);
    } catch (e) {
      if (absent(e)) return undefined;
      throw e;
    }
    if (pre.isSymbolicLink()) return 'refused';
    if (!pre.isFile() && !pre.isDirectory()) return 'special';
    let fh: FileHandle;
    try {
      fh = await fsp.open(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (e) {
      if (absent(e)) return undefined;
      if (errnoCode(e) === 'ELOOP') return 'refused';
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() && !st.isDirectory()) {
        await fh.close();
        return 'special';
      }
      return { fh, st, gen, rel: rel.join('/') };
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  /** The file as a cache entry: its body read once per content (shared across generations). */
  async function load(repo: RepoLayout, f: Opened): Promise<Cached | undefined> {
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

  async function send(req: http.IncomingMessage, res: Res, repo: RepoLayout, f: Opened): Promise<void> {
    const genHeader = { 'X-Rcurepo-Generation': String(f.gen) };
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

  return { openIn, send };
}
