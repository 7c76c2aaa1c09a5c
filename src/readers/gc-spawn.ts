/**
 * gc after publish: the publisher starts `rcurepo gc REPO` detached and goes on; it never waits for
 * deletions. At most one such gc is pending per repository: the marker `condemned/gc-pending` names
 * the child's pid until the child holds the writer lock, so a burst of publishes does not pile up
 * waiting reapers (a publish after the child took the lock schedules the next one).
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { errnoCode } from '../util/errors.js';
import { mkdirp, writeFileAtomic } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';
import { settingsFrom } from './settings.js';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rcurepo.js');

export function pendingMarker(repo: RepoLayout): string {
  return repo.gcPendingMarker;
}

async function pendingPid(repo: RepoLayout): Promise<number | undefined> {
  try {
    const pid = Number((await fsp.readFile(pendingMarker(repo), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Returns the child's pid, or undefined when gc after publish is off or one is already pending. */
export async function scheduleGcAfterPublish(layout: Layout, repoName: string): Promise<number | undefined> {
  const repo = layout.repo(repoName);
  const settings = settingsFrom((await readRepoConfig(repo)).settings);
  if (!settings.gcAfterPublish) return undefined;
  const pending = await pendingPid(repo);
  if (pending !== undefined && isProcessAlive(pending)) return undefined;
  const child = spawn(process.execPath, [BIN, '--base', layout.base, 'gc', repoName, '--background'], {
    detached: true,
    stdio: 'ignore',
    cwd: layout.base,
  });
  child.on('error', () => undefined); // a failed background gc must never disturb the publisher
  child.unref();
  if (child.pid === undefined) return undefined;
  await mkdirp(repo.condemnedDir);
  await writeFileAtomic(pendingMarker(repo), `${child.pid}\n`, { syncDir: false });
  return child.pid;
}

/** Called by the background gc once it holds the lock: later publishes may schedule another. */
export async function clearPending(repo: RepoLayout): Promise<void> {
  if ((await pendingPid(repo)) !== process.pid) return;
  await fsp.unlink(pendingMarker(repo)).catch((e) => {
    if (errnoCode(e) !== 'ENOENT') throw e;
  });
}
