/** `rcurepo pin|unpin REPO GEN`: generations the reaper must keep (a marker file per generation). */
import fsp from 'node:fs/promises';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { listSnapshots } from '../engine/generations.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { mkdirp, pathExists, writeFileAtomic } from '../util/fsx.js';

export interface PinResult {
  repo: string;
  generation: number;
  pinned: boolean;
  changed: boolean;
  dryRun?: boolean;
}

export async function pin(o: { base: string; repo: string; generation: number; pin: boolean; reason?: string; dryRun?: boolean }): Promise<PinResult> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  await readRepoConfig(repo);
  const file = repo.pinMarker(o.generation);
  if (o.dryRun) {
    if (!(await listSnapshots(repo)).includes(o.generation)) throw new RcuError('NOT_FOUND', `generation ${o.generation} of '${o.repo}' does not exist (never published, or reaped)`);
    const pinned = await pathExists(file);
    return { repo: o.repo, generation: o.generation, pinned: o.pin, changed: pinned !== o.pin, dryRun: true };
  }
  if (!o.pin) {
    try {
      await fsp.unlink(file);
      return { repo: o.repo, generation: o.generation, pinned: false, changed: true };
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { repo: o.repo, generation: o.generation, pinned: false, changed: false };
      throw e;
    }
  }
  // A pin taken after the reaper condemned the generation may lose the race; the snapshot check after
  // writing the marker tells the operator.
  await mkdirp(repo.pinsDir);
  const existed = await fsp.access(file).then(() => true, (e) => {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  });
  await writeFileAtomic(file, JSON.stringify({ since: new Date().toISOString(), reason: o.reason ?? null }) + '\n');
  if (!(await listSnapshots(repo)).includes(o.generation)) {
    await fsp.rm(file, { force: true });
    throw new RcuError('NOT_FOUND', `generation ${o.generation} of '${o.repo}' does not exist (never published, or reaped)`);
  }
  return { repo: o.repo, generation: o.generation, pinned: true, changed: !existed };
}

