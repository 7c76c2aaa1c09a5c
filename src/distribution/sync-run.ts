/**
 * One upstream sync of a mirror repository (docs: README "Upstream sync", FORMAT.md "Mirrors"):
 *   1. a cheap probe: rsync only the upstream's marker and index checksum files; unchanged -> done
 *   2. rsync the upstream into an EMPTY folder with --link-dest to the current snapshot (and to a kept
 *      earlier attempt): unchanged files become hard links, nothing shared is ever written or chmod'ed
 *   3. pool the files that arrived (sync-ingest.ts)
 *   4. check the tree by the format's own rules (sync-checks.ts); a failure keeps the tree for the next
 *      attempt and leaves `current` alone
 *   5. publish through the writer lock (sync-publish.ts)
 * Syncs of one repository are serialised by their own lock (the transfer can take hours and must not
 * hold the writer lock that gc and readers' housekeeping need).
 */
import type { AfterPublish } from '../engine/transaction.js';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { readRepoConfig } from '../engine/repo.js';
import { readManifest, requireCurrent } from '../engine/generations.js';
import { rebuildEntries, poolInodeMap } from '../engine/snapshot-state.js';
import { RcuError } from '../util/errors.js';
import { trace } from '../util/trace.js';
import { removePath, syncFilesystem, mkdirp } from '../util/fsx.js';
import { checkedTree, checkMirrorTree } from './sync-checks.js';
import { dryRunDiff, probeUnchanged } from './sync-probe.js';
import { mirrorFormat } from './sync-format.js';
import { ingestTree } from './sync-ingest.js';
import { diffEntries, publishTree } from './sync-publish.js';
import { checkRsyncStatus, parseUpstream, runRsync } from './sync-upstream.js';

export interface SyncOptions {
  layout: Layout;
  repo: string;
  dryRun?: boolean;
  /** Skip the probe and compare file contents, not sizes and times (rsync --checksum): reads everything. */
  full?: boolean;
  /** rsync --bwlimit (KiB/s). */
  bwlimitKiB?: number;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  /** Progress text (rsync's progress lines, step names); only given on a terminal. */
  progress?: (text: string) => void;
  /** The repository's after-publish reactions (publish/after-publish.ts); returns their warnings. */
  afterPublish: AfterPublish;
}

const SAMPLE = 100;

export interface SyncResult {
  repo: string;
  upstream: string;
  dryRun: boolean;
  published: boolean;
  /** 'unchanged': the probe found the marker/index checksums identical and nothing else was fetched. */
  probe: 'unchanged' | 'changed' | 'skipped';
  parent: number;
  generation: number;
  added: number;
  replaced: number;
  removed: number;
  /** Up to 100 changed paths of each kind. */
  changes: { added: string[]; replaced: string[]; removed: string[] };
  /** Files (and their bytes) that came over the wire and were hashed into the pool. */
  arrived: number;
  arrivedBytes: number;
  /** Files taken from a kept earlier attempt (a failed check, a killed sync) instead of the wire. */
  resumed: number;
  files: number;
  warnings: string[];
  seconds: number;
}

interface SyncPaths {
  work: string;
  prev: string;
  tmp: string;
}

function syncPaths(repo: RepoLayout): SyncPaths {
  const [work, prev] = repo.syncTrees as [string, string];
  return { work, prev, tmp: path.join(repo.syncDir, 'tmp') };
}

/**
 * Kill the rsync processes of a crashed sync that are still writing into the work folder (a sync killed
 * with -9 leaves its rsync, and a local copy's forked receiver, running). They are found by their
 * command line, which names this repository's work folder.
 */
async function stopOrphanRsync(p: SyncPaths): Promise<void> {
  const ours = (): number[] => {
    const pids: number[] = [];
    for (const name of fs.readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (args.includes(p.work + '/') && args.includes(`--temp-dir=${p.tmp}`)) pids.push(pid);
      } catch {
        /* gone meanwhile */
      }
    }
    return pids;
  };
  if (!fs.existsSync('/proc/self/cmdline')) return; // no /proc: nothing to identify them by
  for (let i = 0; i < 100; i++) {
    const pids = ours();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function syncRepo(o: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  const repo = o.layout.repo(o.repo);
  const cfg = await readRepoConfig(repo);
  if (!cfg.upstream) throw new RcuError('USAGE', `repository '${repo.name}' is not a mirror (create one with 'create-repo NAME --format F --upstream URL')`);
  const up = parseUpstream(cfg.upstream.url);
  // Checked again under the writer lock before publishing; here it saves a transfer that could not publish.
  if (cfg.frozen && !o.dryRun) throw new RcuError('FROZEN', `repository '${repo.name}' is frozen since ${cfg.frozen.since} by ${cfg.frozen.by}; 'rcurepo unfreeze ${repo.name}' first`);
  const p = syncPaths(repo);
  await mkdirp(repo.syncDir);
  const syncLock = await acquireWriterLock(path.join(repo.syncDir, 'attempt'), { operation: 'sync', waitSeconds: o.waitSeconds ?? 300, onWait: o.onWait });
  try {
    const parent = await requireCurrent(repo);
    const parentDir = repo.snapshotDir(parent);
    const format = mirrorFormat(cfg.format, cfg.upstream);
    const result: SyncResult = {
      repo: repo.name, upstream: up.url, dryRun: !!o.dryRun, published: false, probe: o.full ? 'skipped' : 'changed', parent, generation: parent,
      added: 0, replaced: 0, removed: 0, changes: { added: [], replaced: [], removed: [] }, arrived: 0, arrivedBytes: 0, resumed: 0, files: 0, warnings: [], seconds: 0,
    };
    const finish = (d: { added: string[]; replaced: string[]; removed: string[] }): SyncResult => {
      Object.assign(result, { added: d.added.length, replaced: d.replaced.length, removed: d.removed.length });
      result.changes = { added: d.added.slice(0, SAMPLE), replaced: d.replaced.slice(0, SAMPLE), removed: d.removed.slice(0, SAMPLE) };
      result.seconds = (Date.now() - started) / 1000;
      return result;
    };
    o.progress?.('probing upstream\n');
    if (!o.full && (await probeUnchanged(up, cfg.format, parentDir))) {
      trace('sync: probe unchanged');
      result.probe = 'unchanged';
      return finish({ added: [], replaced: [], removed: [] });
    }
    if (o.dryRun) {
      const d = await dryRunDiff(up, parentDir);
      result.warnings.push(...d.warnings);
      return finish(d);
    }
    trace('sync: probe changed');
    const parentEntries = (await readManifest(repo, parent)) ?? (await rebuildEntries(o.layout, parentDir, format, await poolInodeMap(o.layout)));
    result.files = parentEntries.length;
    trace('sync: parent entries');
    // Keep what an earlier attempt received (a check failure, a kill): it is linked from, never written.
    // A killed sync's rsync may outlive it and still be writing there: stop it first.
    await stopOrphanRsync(p);
    await removePath(p.prev);
    if (fs.existsSync(p.work)) await fsp.rename(p.work, p.prev);
    await removePath(p.tmp);
    await fsp.mkdir(p.tmp);
    const resuming = fs.existsSync(p.prev);
    const linkDests = [`--link-dest=${parentDir}`, ...(resuming ? [`--link-dest=${p.prev}`] : [])];
    const progressArgs = o.progress ? ['--info=progress2', '--no-inc-recursive'] : [];
    const bw = o.bwlimitKiB ? [`--bwlimit=${o.bwlimitKiB}`] : [];
    if (o.full) bw.push('--checksum'); // an upstream rewrite that kept size and mtime is found only so
    // -rt, not -a: no owners, no permission bits (pool blobs are 0444 whatever the upstream says, and
    // --link-dest links only files whose preserved attributes match), no symlinks or devices.
    // --modify-window=-1: nanoseconds count in the quick check, so a file the upstream replaced within
    // the same second by one of the same size is received, not linked from the parent (transport.ts).
    o.progress?.('receiving\n');
    const r = await runRsync(up, ['-rt', '--modify-window=-1', `--temp-dir=${p.tmp}`, ...linkDests, ...bw, ...progressArgs, up.source, p.work + '/'], o.progress);
    result.warnings.push(...checkRsyncStatus(up, r, 'receiving'));
    trace('sync: rsync');
    await removePath(p.tmp);
    o.progress?.('\npooling received files\n');
    const byPath = new Map(parentEntries.map((e) => [e.path, e] as const));
    // (The kept attempt goes after pooling: until then its links tell resumed files from received ones.)
    const got = await ingestTree(o.layout, p.work, parentDir, byPath, !resuming);
    await removePath(p.prev);
    trace('sync: pooled');
    result.arrived = got.arrived;
    result.arrivedBytes = got.arrivedBytes;
    result.resumed = got.resumed;
    result.files = got.entries.length;
    o.progress?.(`checking ${got.entries.length} files (${got.arrived} received)\n`);
    const faults = got.foreign.map((f) => `${f}: not a regular file or folder`);
    if (got.entries.length === 0) faults.push('the upstream tree is empty');
    else faults.push(...(await checkMirrorTree(checkedTree(o.layout, p.work, got.entries), { format: cfg.format, keyring: cfg.upstream.keyring })));
    trace('sync: checked');
    if (faults.length) {
      // Files a check found wrong are not kept for the next attempt: rsync's quick check (size and
      // time) could otherwise take a corrected upstream file of the same size and second for unchanged.
      for (const f of faults) {
        const rel = f.slice(0, f.indexOf(': '));
        if (rel && !rel.includes('..')) await fsp.rm(path.join(p.work, rel), { force: true }).catch(() => undefined);
      }
      throw new RcuError('INTEGRITY', `sync of '${repo.name}' from ${up.url} not published: the received tree fails the ${cfg.format} checks (${faults.length} fault(s)); current stays at generation ${parent}; the received files are kept for the next sync`, {
        details: faults.slice(0, 20),
        data: { faults: faults.length, parent },
      });
    }
    const diff = diffEntries(parentEntries, got.entries);
    if (diff.added.length + diff.removed.length + diff.replaced.length === 0) {
      await removePath(p.work);
      return finish(diff);
    }
    // Durable before it is renamed into place (file data and folder entries: one filesystem sync).
    await syncFilesystem(p.work, () => [p.work]);
    trace('sync: durable');
    const pub = await publishTree({
      layout: o.layout, repoName: repo.name, tree: p.work, entries: got.entries, parent, diff, operation: 'sync', args: [up.url],
      waitSeconds: o.waitSeconds, onWait: o.onWait, afterPublish: o.afterPublish,
    });
    trace('sync: published');
    result.published = true;
    result.generation = pub.generation;
    result.warnings.push(...pub.warnings);
    return finish(diff);
  } finally {
    await syncLock.release().catch(() => undefined);
  }
}
