/**
 * Pool totals (blobs, bytes) for /metrics, counted again only where the pool changed. The pool is up to
 * 256 prefix folders of immutable blobs; adding or removing a blob changes its folder's ctime, so a
 * count after a publish re-reads the few folders a publish touched instead of stat-ing every blob again
 * (with publishes every few seconds every scrape recounts, and 50,000 stats through the promise API cost
 * a second of CPU, taken from the requests the same process serves).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isSha256 } from '../engine/pool.js';
import { errnoCode } from '../util/errors.js';

/**
 * A folder's figures are trusted only once its last change is this much older than the scan that read
 * them: a blob linked in the same timestamp tick just after the scan leaves the ctime unchanged.
 */
const SETTLE_MS = 2000;
/** Synchronous stats between two turns of the event loop (about a millisecond). */
const BATCH = 256;

interface Folder {
  ctimeMs: number;
  ino: number;
  scannedAt: number;
  blobs: number;
  bytes: number;
}

export interface PoolTotals {
  at: number;
  blobs: number;
  bytes: number;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

export class PoolCounter {
  private folders = new Map<string, Folder>();

  constructor(private readonly blobsDir: string) {}

  async count(): Promise<PoolTotals> {
    const at = Date.now();
    let prefixes: string[];
    try {
      prefixes = await fsp.readdir(this.blobsDir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { at, blobs: 0, bytes: 0 };
      throw e;
    }
    const seen = new Set<string>();
    let blobs = 0;
    let bytes = 0;
    let stats = 0;
    for (const pre of prefixes) {
      const dir = path.join(this.blobsDir, pre);
      const st = fs.statSync(dir, { throwIfNoEntry: false });
      if (!st?.isDirectory()) continue;
      seen.add(pre);
      let f = this.folders.get(pre);
      if (!f || f.ctimeMs !== st.ctimeMs || f.ino !== st.ino || f.scannedAt - f.ctimeMs < SETTLE_MS) {
        f = { ctimeMs: st.ctimeMs, ino: st.ino, scannedAt: Date.now(), blobs: 0, bytes: 0 };
        let names: string[];
        try {
          names = fs.readdirSync(dir);
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') continue; // removed while we counted
          throw e;
        }
        for (const name of names) {
          const sha = name.split('.')[0];
          if (!sha || !isSha256(sha)) continue;
          const b = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
          if (b?.isFile()) {
            f.blobs++;
            f.bytes += b.size;
          }
          if (++stats % BATCH === 0) await turn();
        }
        this.folders.set(pre, f);
      }
      blobs += f.blobs;
      bytes += f.bytes;
      if (++stats % BATCH === 0) await turn();
    }
    for (const k of this.folders.keys()) if (!seen.has(k)) this.folders.delete(k);
    return { at, blobs, bytes };
  }
}
