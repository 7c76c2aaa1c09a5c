/**
 * Strong ETags from content hashes. Keyed by the file's identity (dev, ino, size, mtime): snapshot files
 * are hard links of immutable pool blobs, so one inode serves every generation that links it and its
 * hash is computed or looked up once. On a miss the generation's manifest (sha256, size, path) answers
 * for pool files; index files (not in manifests) are hashed once.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { RepoLayout } from '../engine/layout.js';
import { readManifest } from '../engine/generations.js';

const MAX_IDS = 200_000;
const MAX_MANIFESTS = 4;

export class EtagCache {
  private byId = new Map<string, string>();
  private manifests = new Map<string, Promise<Map<string, string> | undefined>>();
  private hashing = new Map<string, Promise<string>>();

  private idKey(st: Stats): string {
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  }

  private manifest(repo: RepoLayout, gen: number): Promise<Map<string, string> | undefined> {
    const k = `${repo.dir}\0${gen}`;
    let m = this.manifests.get(k);
    if (!m) {
      m = readManifest(repo, gen).then((entries) => (entries ? new Map(entries.map((e) => [e.path, e.sha256])) : undefined));
      if (this.manifests.size >= MAX_MANIFESTS) this.manifests.delete(this.manifests.keys().next().value!);
      this.manifests.set(k, m);
    }
    return m;
  }

  /** The quoted sha256 of the open file. `fh` is read with positional reads (its offset is untouched). */
  async etag(repo: RepoLayout, gen: number, relPath: string, fh: FileHandle, st: Stats): Promise<string> {
    const id = this.idKey(st);
    const hit = this.byId.get(id);
    if (hit) return hit;
    let sha = (await this.manifest(repo, gen))?.get(relPath);
    if (!sha) {
      let p = this.hashing.get(id);
      if (!p) {
        p = hashHandle(fh, st.size).finally(() => this.hashing.delete(id));
        this.hashing.set(id, p);
      }
      sha = await p;
    }
    const tag = `"${sha}"`;
    if (this.byId.size >= MAX_IDS) this.byId.clear(); // crude bound; refills from manifests quickly
    this.byId.set(id, tag);
    return tag;
  }
}

async function hashHandle(fh: FileHandle, size: number): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size, 1)));
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest('hex');
}
