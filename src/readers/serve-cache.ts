/**
 * In-memory copies of served files, keyed by (repository, generation, path). Correct without any
 * invalidation: a published snapshot never changes and generations are never reused (rcu-protocol.md,
 * invariants 2 and 5). Each entry carries its response headers precomputed, so a hit costs no syscall
 * and builds no header object. Bodies are shared between generations that link the same inode.
 */
import type { Stats } from 'node:fs';

export interface Cached {
  repo: string;
  gen: number;
  rel: string;
  body: Buffer;
  etag: string;
  mtimeMs: number;
  lastModified: string;
  type: string;
  /** writeHead() list for a full 200 answer. */
  head200: string[];
  /** writeHead() list for a 304 answer. */
  head304: string[];
}

export function makeCached(repo: string, gen: number, rel: string, body: Buffer, etag: string, mtimeMs: number, type: string): Cached {
  const g = String(gen);
  const lastModified = new Date(mtimeMs).toUTCString();
  return {
    repo,
    gen,
    rel,
    body,
    etag,
    mtimeMs,
    lastModified,
    type,
    head200: ['X-Rcurepo-Generation', g, 'ETag', etag, 'Last-Modified', lastModified, 'Accept-Ranges', 'bytes', 'Content-Type', type, 'Content-Length', String(body.length)],
    head304: ['X-Rcurepo-Generation', g, 'ETag', etag, 'Last-Modified', lastModified],
  };
}

/** Identity of a file's content: snapshot files are hard links of immutable pool blobs. */
export function contentId(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

export class FileCache {
  /** repo -> generation -> path -> entry: three lookups and no key string built per request. */
  private byRepo = new Map<string, Map<number, Map<string, Cached>>>();
  /** Insertion order, for eviction (first in, first out: old generations go first). */
  private order = new Set<Cached>();
  private bytes = 0;
  /** Bodies by content identity, weakly: a new generation reuses the bytes the previous one read. */
  private bodies = new Map<string, WeakRef<Buffer>>();

  /**
   * @param maxBytes total body bytes kept (0 disables the cache)
   * @param maxFile largest file kept; larger ones are streamed from disk
   */
  constructor(
    readonly maxBytes: number,
    readonly maxFile: number,
  ) {}

  get(repo: string, gen: number, rel: string): Cached | undefined {
    return this.byRepo.get(repo)?.get(gen)?.get(rel);
  }

  fits(size: number): boolean {
    return size <= this.maxFile && size <= this.maxBytes;
  }

  body(id: string): Buffer | undefined {
    return this.bodies.get(id)?.deref();
  }

  set(c: Cached, id: string): void {
    if (!this.fits(c.body.length)) return;
    let gens = this.byRepo.get(c.repo);
    if (!gens) this.byRepo.set(c.repo, (gens = new Map()));
    let files = gens.get(c.gen);
    if (!files) gens.set(c.gen, (files = new Map()));
    const old = files.get(c.rel);
    if (old) this.remove(old);
    files.set(c.rel, c);
    this.order.add(c);
    this.bytes += c.body.length;
    if (this.bodies.size > 200_000) this.bodies.clear();
    this.bodies.set(id, new WeakRef(c.body));
    // Entries are counted with their body even when a body is shared: the bound errs on the small side.
    for (const e of this.order) {
      if (this.bytes <= this.maxBytes && this.order.size <= 200_000) break;
      this.remove(e);
    }
  }

  private remove(c: Cached): void {
    if (!this.order.delete(c)) return;
    this.bytes -= c.body.length;
    const gens = this.byRepo.get(c.repo);
    const files = gens?.get(c.gen);
    files?.delete(c.rel);
    if (files && files.size === 0) {
      gens!.delete(c.gen);
      if (gens!.size === 0) this.byRepo.delete(c.repo);
    }
  }
}
