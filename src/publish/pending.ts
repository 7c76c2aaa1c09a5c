/**
 * The one background policy of after-publish reactions: at most one pending child per (repository,
 * reaction). A publish starts `node BIN --base BASE <argv>` detached and records its pid in the marker
 * repos/NAME/meta/pending/<reaction>; while that marker names a live process, later publishes start
 * nothing (they coalesce into the pending child). The child CLAIMS the marker (removes it) at the moment
 * it takes up its work, and then works on `current`, never on the generation that started it: every
 * publish is thus covered by a child that claims after it, and the newest generation wins.
 *
 * Publishers schedule under the repository's writer lock, so two never race for one marker. The child
 * may start before its publisher wrote the marker: claimPending waits (briefly) until the marker names it.
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { errnoCode } from '../util/errors.js';
import { writeFileAtomic, mkdirp } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';
import { BIN } from '../util/bin.js';

/** How long a child waits for its publisher to record it (the publisher writes right after the spawn). */
const CLAIM_WAIT_MS = 2000;
const CLAIM_POLL_MS = 10;
/** Set in a background child's environment: which reaction started it. */
const CHILD_ENV = 'RCUREPO_REACTION';

async function pendingPid(repo: RepoLayout, reaction: string): Promise<number | undefined> {
  try {
    const pid = Number((await fsp.readFile(repo.reactionPendingMarker(reaction), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Start the reaction's background child unless one is pending. Returns the new child's pid, or undefined
 * when it coalesced into a pending one (or could not start: a background step never disturbs a publish).
 */
export async function scheduleBackground(layout: Layout, repoName: string, reaction: string, argv: readonly string[]): Promise<number | undefined> {
  const repo = layout.repo(repoName);
  const pending = await pendingPid(repo, reaction);
  if (pending !== undefined && isProcessAlive(pending)) return undefined;
  const child = spawn(process.execPath, [BIN, '--base', layout.base, ...argv], {
    detached: true,
    stdio: 'ignore',
    cwd: layout.base,
    env: { ...process.env, [CHILD_ENV]: reaction },
  });
  child.on('error', () => undefined); // a child that cannot start must never disturb the publisher
  child.unref();
  if (child.pid === undefined) return undefined;
  const marker = repo.reactionPendingMarker(reaction);
  await mkdirp(path.dirname(marker));
  // No fsync: a marker lost (or left empty) by a crash reads as "nothing pending", and the next publish
  // starts a child again; a child that never sees its pid recorded simply does its work unclaimed.
  await writeFileAtomic(marker, `${child.pid}\n`, { syncDir: false, syncData: false });
  return child.pid;
}

/**
 * Called by a background child when it takes up its work (after any lock that serialises its runs, before
 * it reads `current`): from now on a publish starts another child. A no-op for a process that was not
 * started as the pending child (an operator running the command by hand).
 */
export async function claimPending(repo: RepoLayout, reaction: string): Promise<void> {
  const started = process.env[CHILD_ENV] === reaction;
  delete process.env[CHILD_ENV]; // not inherited by what the child runs
  const deadline = Date.now() + CLAIM_WAIT_MS;
  for (;;) {
    const pid = await pendingPid(repo, reaction);
    if (pid === process.pid) break;
    // Not started by a publish, or the publisher died before recording us: nothing of ours to remove.
    if (!started || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, CLAIM_POLL_MS));
  }
  await fsp.unlink(repo.reactionPendingMarker(reaction)).catch((e) => {
    if (errnoCode(e) !== 'ENOENT') throw e;
  });
}
