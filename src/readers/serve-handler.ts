/**
 * Request handling of the HTTP server (serve.ts): which repository, generation and file a GET/HEAD
 * reads, under a lease taken by the reader protocol, with the fallback to other generations for a path
 * missing from the one resolved. A synchronous fast path answers files already in memory; writing the
 * answer is serve-files.ts's.
 */
import type http from 'node:http';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import path from 'node:path';
import { PAGE_SEGMENT, parseRequestPath } from './http-util.js';
import { repoPageData } from './repo-page-data.js';
import { repoPageHtml, reposIndexHtml } from './repo-page-html.js';
import { reposIndex, redirectToSlash, sendPage } from './serve-pages.js';
import { sendListing } from './serve-listing.js';
import type { ServeMetrics } from './serve-metrics.js';
import { wantsJson } from './serve-page-style.js';
import type { ParsedPath } from './http-util.js';
import type { FileCache } from './serve-cache.js';
import { sendCached, text } from './serve-files.js';
import type { FileSender, Res } from './serve-files.js';
import type { ServeState } from './serve-state.js';
import type { ServerLeases } from './server-leases.js';

type Parsed = ParsedPath & { relKey?: string };

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

export interface RequestHandler {
  /** Answer from memory without waiting, when it can; false: nothing was sent, take handle(). */
  fast(req: http.IncomingMessage, res: Res, client: string): boolean;
  /** Any request, answered in full; what it throws before answering is the caller's to report. */
  handle(req: http.IncomingMessage, res: Res, client: string): Promise<void>;
}

/** What a server's request handling reads through; all of it is shared by the server's requests. */
export interface HandlerParts {
  layout: Layout;
  state: ServeState;
  leases: ServerLeases;
  cache: FileCache;
  files: FileSender;
  /** Answers GET /metrics when set. */
  metrics?: ServeMetrics;
}

export function requestHandler({ layout, state, leases, cache, files, metrics }: HandlerParts): RequestHandler {
  const { openIn, send } = files;
  /** Parsed request targets (a pure function of the string). */
  const targets = new Map<string, Parsed>();

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
      res.repo = name;
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

  async function handle(req: http.IncomingMessage, res: Res, client: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    const url = req.url ?? '/';
    const parsed = target(url);
    if (!parsed.ok) return text(res, parsed.status, `${parsed.reason}\n`);
    if (parsed.repo === 'metrics' && parsed.rel.length === 0 && !parsed.dirSlash && parsed.gen === undefined && !parsed.page && metrics) {
      const body = await metrics.render();
      res.len = Buffer.byteLength(body);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': res.len, 'Cache-Control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (parsed.repo === '') return sendPage(req, res, await reposIndex(layout), reposIndexHtml);
    const info = await state.repo(parsed.repo);
    if (!info) return text(res, 404, `no repository named '${parsed.repo}'\n`);
    const name = info.repo.name;
    res.repo = name;
    const relKey = parsed.relKey!;
    // A folder asked for without its slash: relative links of its listing would resolve one level up.
    if (parsed.rel.length === 0 && !parsed.dirSlash) return redirectToSlash(res, url);

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
      if (parsed.page) {
        if (parsed.rel.length > 0) return text(res, 404, `no such page: the repository page is /${name}/@rcurepo/\n`);
        res.gen = gen;
        const data = await repoPageData(layout, name, gen, new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '').get('q') ?? '');
        return sendPage(req, res, data, repoPageHtml, { 'X-Rcurepo-Generation': String(gen) });
      }
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
      if (opened === 'special') return text(res, 403, 'not a regular file or folder\n');
      if (opened === undefined) return text(res, 404, `not found in generation ${gen} of '${name}': /${relKey}\n`, { 'X-Rcurepo-Generation': String(gen) });
      res.gen = opened.gen;
      if (parsed.gen === undefined && opened.st.isFile()) state.served(info, client, opened.rel, opened.gen);
      try {
        if (!opened.st.isDirectory()) await send(req, res, info.repo, opened);
        else if (!parsed.dirSlash) redirectToSlash(res, url, { 'X-Rcurepo-Generation': String(opened.gen) });
        else {
          const dir = path.join(info.repo.snapshotDir(opened.gen), ...parsed.rel);
          await sendListing(res, { repo: name, gen: opened.gen, rel: opened.rel, dir, json: wantsJson(req.headers.accept, url), pageHref: `/${name}/${PAGE_SEGMENT}/` });
        }
      } finally {
        await opened.fh.close().catch(() => undefined);
      }
    } finally {
      releaseAll();
    }
  }

  return { fast, handle };
}
