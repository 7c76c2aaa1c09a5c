/**
 * by-hash (Acquire-By-Hash: yes): every shipped index is also reachable as
 * `<index dir>/by-hash/SHA256/<hex>` (a hard link of the same file in the staging tree), and the
 * by-hash files of generations superseded less than the grace period ago are carried forward (linked
 * from their snapshots): a client that read generation N's InRelease still fetches N's Packages after
 * `current` moved to N+1, whatever server sits in front of the tree.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RepoView } from '../format.js';
import { errnoCode } from '../../util/errors.js';
import { parseRelease } from './release.js';
import { mkdirp } from '../../util/fsx.js';

export const BY_HASH = path.join('by-hash', 'SHA256');

/** Link `dir/name` as `dir/by-hash/SHA256/<sha256>` (an existing one has these bytes by definition). */
export async function linkByHash(dir: string, name: string, sha256: string): Promise<void> {
  const target = path.join(dir, BY_HASH);
  await mkdirp(target);
  try {
    await fsp.link(path.join(dir, name), path.join(target, sha256));
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
  }
}

/**
 * Snapshot folders whose indexes clients may still be reading: the current one (about to be
 * superseded by the staging tree) and those superseded less than `graceSeconds` ago.
 */
export async function recentSnapshots(repo: RepoView, graceSeconds: number, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(repo.snapshotsDir)).filter((n) => /^[0-9]+$/.test(n));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  let current: string | undefined;
  try {
    current = path.basename(await fsp.readlink(repo.currentLink));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  const out: string[] = [];
  for (const n of names) {
    if (n === current) {
      out.push(path.join(repo.snapshotsDir, n));
      continue;
    }
    let when: number;
    try {
      // Synchronous: one small record per superseded generation still on disk, read on every publish.
      when = Date.parse(fs.readFileSync(path.join(repo.supersededDir, n), 'utf8').trim());
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue; // never current (or its record is gone): nobody reads it
      throw e;
    }
    if (Number.isFinite(when) && now - when < graceSeconds * 1000) out.push(path.join(repo.snapshotsDir, n));
  }
  return out;
}

/**
 * Link into `stagingRelDir` (a distribution's folder in staging) the by-hash files that the Release of
 * the same folder in each of `snapshots` lists. Returns how many were carried.
 */
export async function carryForward(snapshots: readonly string[], relDir: string, stagingDir: string): Promise<number> {
  let carried = 0;
  // One link(2) per file: no existence checks first (EEXIST and ENOENT say the same), each folder made
  // once. A publish carries every file of every generation still in grace (four per distribution and
  // generation with sources), so this runs hundreds of times on a busy repository: synchronously, as a
  // thread-pool round trip per link cost more than the link.
  const made = new Set<string>();
  for (const snap of snapshots) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(snap, relDir, 'Release'), 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') continue;
      throw e;
    }
    for (const [p, { sha256 }] of parseRelease(text).sha256) {
      if (!/^[0-9a-f]{64}$/.test(sha256) || p.split('/').includes('..')) continue;
      const rel = path.join(relDir, path.posix.dirname(p), BY_HASH, sha256);
      const src = path.join(snap, rel);
      const dst = path.join(stagingDir, rel);
      const dir = path.dirname(dst);
      if (!made.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      try {
        fs.linkSync(src, dst);
        carried++;
      } catch (e) {
        // EEXIST: carried already (two generations listed the same bytes). ENOENT: not in that snapshot
        // (its Release lists an index it does not ship by hash, or it was reaped meanwhile: rare, the
        // reaper runs under the same lock).
        if (errnoCode(e) !== 'EEXIST' && errnoCode(e) !== 'ENOENT') throw e;
      }
    }
  }
  return carried;
}
