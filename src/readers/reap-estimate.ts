/**
 * Dry-run estimate of the bytes reaping some trees frees: an inode goes when every link to it is in
 * those trees (index files), or all but one and that one is its pool name (a blob the sweep then removes).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../util/errors.js';

export async function estimateFreed(dirs: string[]): Promise<number> {
  const seen = new Map<string, { links: number; nlink: number; size: number }>();
  const walk = async (dir: string): Promise<void> => {
    let ents;
    try {
      ents = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    for (const ent of ents) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await fsp.lstat(p);
      const key = `${st.dev}:${st.ino}`;
      const s = seen.get(key);
      if (s) s.links++;
      else seen.set(key, { links: 1, nlink: st.nlink, size: st.size });
    }
  };
  for (const d of dirs) await walk(d);
  let n = 0;
  for (const s of seen.values()) if (s.links >= s.nlink - 1) n += s.size;
  return n;
}
