/** `rcurepo init`: create the base layout and check the filesystem can host it. */
import fsp from 'node:fs/promises';
import { Layout, LAYOUT_VERSION } from '../engine/layout.js';
import { openBase, writeLayoutFile } from '../engine/repo.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { mkdirp, pathExists, tmpName } from '../util/fsx.js';

export interface InitOptions {
  base: string;
  /** Report what would happen; write nothing (not even the filesystem probes). */
  dryRun?: boolean;
}

export interface InitResult {
  base: string;
  /** Created now (or, with dryRun, would be created). */
  created: boolean;
  layoutVersion: number;
  dryRun: boolean;
}

export async function init(opts: InitOptions): Promise<InitResult> {
  const layout = new Layout(opts.base);
  const dryRun = !!opts.dryRun;
  if (await pathExists(layout.layoutFile)) {
    await openBase(layout.base); // refuses a newer layout
    if (!dryRun) await probeFilesystem(layout);
    return { base: layout.base, created: false, layoutVersion: LAYOUT_VERSION, dryRun };
  }
  if (dryRun) return { base: layout.base, created: true, layoutVersion: LAYOUT_VERSION, dryRun };
  for (const d of [layout.blobsDir, layout.poolMetaDir, layout.poolTmpDir, layout.poolGuardDir, layout.reposDir]) {
    await mkdirp(d);
  }
  await probeFilesystem(layout);
  await writeLayoutFile(layout); // the completion marker, written last
  return { base: layout.base, created: true, layoutVersion: LAYOUT_VERSION, dryRun };
}

/** Hard links from the pool into the repositories folder, and symlinks + rename over them, must work. */
export async function probeFilesystem(layout: Layout): Promise<void> {
  const src = tmpName(layout.poolTmpDir, 'probe');
  const linked = tmpName(layout.reposDir, 'probe-link');
  const sym = tmpName(layout.reposDir, 'probe-sym');
  const sym2 = tmpName(layout.reposDir, 'probe-sym2');
  try {
    await fsp.writeFile(src, 'probe', { flag: 'wx' });
    try {
      await fsp.link(src, linked);
    } catch (e) {
      const why = errnoCode(e) === 'EXDEV' ? 'they are on different filesystems (EXDEV)' : `link() failed: ${(e as Error).message}`;
      throw new RcuError('FS_LIMIT', `${layout.reposDir} cannot hard-link pool files from ${layout.poolDir}: ${why}; the pool and the repositories must share one filesystem that supports hard links`);
    }
    if ((await fsp.stat(src)).nlink !== 2) throw new RcuError('FS_LIMIT', `${layout.base}: the filesystem does not count hard links (nlink); reference counting needs it`);
    try {
      await fsp.symlink('target-a', sym);
      await fsp.symlink('target-b', sym2);
      await fsp.rename(sym2, sym);
      if ((await fsp.readlink(sym)) !== 'target-b') throw new Error('rename over a symlink did not replace it');
    } catch (e) {
      if (e instanceof RcuError) throw e;
      throw new RcuError('FS_LIMIT', `${layout.base}: symbolic links cannot be created and atomically replaced: ${(e as Error).message}`);
    }
  } finally {
    for (const p of [src, linked, sym, sym2]) await fsp.rm(p, { force: true });
  }
}
