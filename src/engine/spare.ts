/**
 * The spare clone: a hard-link clone of the current snapshot made ahead of time, off the publisher's
 * critical path, so the next transaction whose parent is exactly that generation starts from it instead
 * of cloning (the clone is the one step of a publish that grows with the repository, not the change).
 *
 *   repos/NAME/spare/making-<tree>-<pid>/  a clone in progress (its maker's pid in the name)
 *   repos/NAME/spare/<tree>/               a finished clone of snapshots/<gen> (index files left out)
 *   repos/NAME/spare/<tree>.json           its completion record, written LAST: without it the tree is
 *                                          not a spare, only a leftover
 *   repos/NAME/spare/clone-ms              the last measured clone time (bounds a writer's wait)
 *
 * where <tree> is `<gen>` (the spare) or `<gen>.twin` (its twin, a second clone of the same generation:
 * the transaction that takes the spare also takes the twin, applies its change to both, and leaves the
 * twin behind as the spare of the generation it publishes; see spare-twin.ts). Back-to-back publishes
 * then find their spare at once instead of waiting for a clone made after the previous one.
 *
 * A spare is never published as it is: a transaction takes it by renaming it into staging/ under the
 * writer lock (one rename: two writers can never take the same spare), applies its change and verifies
 * the tree against the parent's manifest exactly as after a fresh clone. A spare of any generation but
 * `current` is stale and is never used; its links keep blobs alive, so tidySpares() removes stale ones
 * before a pool sweep, and verify counts the links spares hold.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RepoLayout } from './layout.js';
import type { CloneReply } from './clone-worker.js';
import { cloneTree } from './tree.js';
import { makerMoving, PROGRESS, progressReporter } from './spare-progress.js';
import { readCurrent } from './generations.js';
import { errnoCode } from '../util/errors.js';
import { listDir, removePath, syncFilesystem, tmpName, writeFileAtomic, mkdirp } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';
import { crashPoint } from '../util/crash.js';

export interface SpareRecord {
  generation: number;
  /** When the clone finished (ISO time). */
  made: string;
  /** How long the clone took. */
  ms: number;
  /** Carried forward by the transaction that published this generation (its twin), not cloned. */
  carried?: boolean;
  reply: CloneReply;
}

/** Which of a generation's two clones: the spare (taken first) or its twin (carried forward). */
export type SpareKind = 'spare' | 'twin';

export interface SpareState {
  generation: number;
  kind: SpareKind;
  state: 'ready' | 'making' | 'stale' | 'leftover';
  pid?: number;
  made?: string;
  files?: number;
  carried?: boolean;
}

/** The after-publish reaction that starts makers (src/publish/reactions.ts); its pending marker names one. */
export const SPARE_REACTION = 'spare-clone';

const MAKING = /^making-(\d+)(\.twin)?-(\d+)$/;
/** `maker-<pid>`: a maker started (by a publish) and not yet finished; written before it runs. */
const MAKER = /^maker-(\d+)$/;

/** Record that process `pid` is a maker from now until it calls makerDone(); visible before it starts. */
export async function announceMaker(repo: RepoLayout, pid: number): Promise<void> {
  await mkdirp(spareRoot(repo));
  await fsp.writeFile(path.join(spareRoot(repo), `maker-${pid}`), '');
}

export async function makerDone(repo: RepoLayout, pid = process.pid): Promise<void> {
  await fsp.rm(path.join(spareRoot(repo), `maker-${pid}`), { force: true });
}
const READY = /^(\d+)(\.twin)?$/;
const kindOf = (suffix: string | undefined): SpareKind => (suffix ? 'twin' : 'spare');
/** The folder name of a generation's spare or twin. */
export function treeName(gen: number, kind: SpareKind): string {
  return kind === 'twin' ? `${gen}.twin` : String(gen);
}

export function spareRoot(repo: RepoLayout): string {
  return path.join(repo.dir, 'spare');
}
export function spareTree(repo: RepoLayout, gen: number, kind: SpareKind = 'spare'): string {
  return path.join(spareRoot(repo), treeName(gen, kind));
}
function spareRecordFile(repo: RepoLayout, gen: number, kind: SpareKind = 'spare'): string {
  return path.join(spareRoot(repo), `${treeName(gen, kind)}.json`);
}
function cloneMsFile(repo: RepoLayout): string {
  return path.join(spareRoot(repo), 'clone-ms');
}

/** Every spare folder, finished or not, with what it is now. */
export async function listSpares(repo: RepoLayout): Promise<SpareState[]> {
  const current = await readCurrent(repo).catch(() => undefined);
  const names = await listDir(spareRoot(repo));
  const have = new Set(names);
  const out: SpareState[] = [];
  for (const n of names) {
    const m = MAKING.exec(n);
    if (m) {
      const pid = Number(m[3]);
      out.push({ generation: Number(m[1]), kind: kindOf(m[2]), state: isProcessAlive(pid) ? 'making' : 'leftover', pid });
      continue;
    }
    const r = READY.exec(n);
    if (!r) continue;
    const gen = Number(r[1]);
    const kind = kindOf(r[2]);
    if (!have.has(`${n}.json`)) {
      out.push({ generation: gen, kind, state: 'leftover' });
      continue;
    }
    const rec = await readRecord(repo, gen, kind);
    out.push({ generation: gen, kind, state: gen === current && rec ? 'ready' : 'stale', made: rec?.made, files: rec?.reply.files.length, ...(rec?.carried ? { carried: true } : {}) });
  }
  return out.sort((a, b) => a.generation - b.generation || (a.kind === b.kind ? 0 : a.kind === 'spare' ? -1 : 1));
}

async function readRecord(repo: RepoLayout, gen: number, kind: SpareKind): Promise<SpareRecord | undefined> {
  try {
    const rec = JSON.parse(await fsp.readFile(spareRecordFile(repo, gen, kind), 'utf8')) as SpareRecord;
    return rec.generation === gen && Array.isArray(rec.reply?.files) ? rec : undefined;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** The last measured clone time of this repository, in ms (undefined before the first). */
export async function lastCloneMs(repo: RepoLayout): Promise<number | undefined> {
  const n = Number((await fsp.readFile(cloneMsFile(repo), 'utf8').catch(() => '')).trim());
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export async function recordCloneMs(repo: RepoLayout, ms: number): Promise<void> {
  await mkdirp(spareRoot(repo));
  await writeFileAtomic(cloneMsFile(repo), `${Math.round(ms)}\n`, { syncData: false, syncDir: false });
}

export interface MakeSpareResult {
  generation: number;
  made: boolean;
  /** Why nothing was made (already there, another maker at work, the generation moved on). */
  reason?: string;
  ms?: number;
}

/**
 * Clone snapshots/<gen> into its spare (or its twin). Needs no writer lock: the source is an immutable
 * snapshot (the caller keeps it from being reaped, e.g. with a lease) and the folder is private until its
 * record exists. Returns made:false when that tree of gen exists or a live maker is at work on it.
 */
export async function makeSpare(repo: RepoLayout, gen: number, skipRoot: readonly string[], kind: SpareKind = 'spare'): Promise<MakeSpareResult> {
  const root = spareRoot(repo);
  await mkdirp(root);
  for (const s of await listSpares(repo)) {
    if (s.generation !== gen || s.kind !== kind) continue;
    if (s.state === 'ready') return { generation: gen, made: false, reason: `a ${kind} of this generation is ready` };
    if (s.state === 'making') return { generation: gen, made: false, reason: `pid ${s.pid} is making its ${kind}` };
  }
  const making = path.join(root, `making-${treeName(gen, kind)}-${process.pid}`);
  await removePath(making);
  const t0 = performance.now();
  const progress = await progressReporter(root, gen);
  let reply: CloneReply;
  try {
    reply = await cloneTree(repo.snapshotDir(gen), making, skipRoot, (files) => progress.onFiles(files));
  } finally {
    await progress.close();
  }
  const ms = performance.now() - t0;
  // Flush the clone's thousands of new directory entries here, in the background, so that the publish
  // taking this spare flushes only its own few changes (its durable step is a syncfs of the filesystem,
  // which otherwise waited ~100 ms for this clone's metadata at 10,000 files).
  await syncFilesystem(making, () => []);
  crashPoint('spare-after-clone');
  const tree = spareTree(repo, gen, kind);
  await removePath(tree); // a leftover of a maker that died between the rename and the record
  await fsp.rename(making, tree);
  crashPoint('spare-after-rename');
  // The record is the completion marker; no fsync: a spare lost in a crash is only a clone to redo, and
  // the transaction that takes one makes the whole filesystem durable before publishing.
  await writeRecord(repo, gen, kind, reply, ms);
  await recordCloneMs(repo, ms);
  return { generation: gen, made: true, ms: Math.round(ms) };
}

export async function writeRecord(repo: RepoLayout, gen: number, kind: SpareKind, reply: CloneReply, ms: number, carried = false): Promise<void> {
  const rec: SpareRecord = { generation: gen, made: new Date().toISOString(), ms: Math.round(ms), ...(carried ? { carried } : {}), reply };
  await writeFileAtomic(spareRecordFile(repo, gen, kind), JSON.stringify(rec), { syncData: false, syncDir: false });
}

export interface TakeOptions {
  /** Longest wait for a maker at work on this generation; past it the maker is stopped and we clone. */
  waitMs: number;
  /** Which tree to take (default the spare). A twin's maker is never stopped: the writer goes on without. */
  kind?: SpareKind;
  /** Poll interval while waiting. */
  pollMs?: number;
}

export interface TakenSpare {
  reply: CloneReply;
  waitedMs: number;
}

/**
 * Under the writer lock: move the spare of generation `parent` to `dest` (a staging path that does not
 * exist) and return its clone reply, or undefined when there is none to take (the caller clones). A maker
 * still at work on `parent` is waited for opts.waitMs (the last clone's time); past that, for as long as
 * its clone keeps moving (spare-progress.ts), since a maker that started before us finishes before a
 * clone we would start now under the same load, and stopping it at 90% would make the same links twice.
 * A maker that stalls, or takes three clone times, is stopped and the writer clones.
 */
export async function takeSpare(repo: RepoLayout, parent: number, dest: string, opts: TakeOptions): Promise<TakenSpare | undefined> {
  const kind = opts.kind ?? 'spare';
  const names = await listDir(spareRoot(repo));
  if (names.length === 0) return undefined;
  const t0 = performance.now();
  let waited = false;
  const takeReady = async (): Promise<TakenSpare | undefined> => {
    const rec = await readRecord(repo, parent, kind);
    if (!rec) return undefined;
    try {
      await fsp.rename(spareTree(repo, parent, kind), dest);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    await fsp.rm(spareRecordFile(repo, parent, kind), { force: true });
    return { reply: rec.reply, waitedMs: waited ? Math.round(performance.now() - t0) : 0 };
  };
  const ready = await takeReady();
  if (ready) return ready;
  const maker = names.map((n) => MAKING.exec(n)).find((m) => m && Number(m[1]) === parent && kindOf(m[2]) === kind && isProcessAlive(Number(m[3])));
  if (!maker) return undefined;
  const pid = Number(maker[3]);
  const deadline = t0 + opts.waitMs;
  // A twin is only worth what it saves the next publish: never waited for past one clone time.
  const cap = t0 + (kind === 'twin' ? 1 : 3) * opts.waitMs;
  waited = true;
  const root = spareRoot(repo);
  while (isProcessAlive(pid)) {
    const now = performance.now();
    if (now >= cap || (now >= deadline && !(await makerMoving(root, parent, pid)))) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 15));
    const got = await takeReady();
    if (got) return got;
  }
  const late = await takeReady();
  if (late || kind === 'twin') return late;
  // Too slow (or it died): stop it so it does not compete with our own clone for the disk.
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  return undefined;
}

/**
 * Remove spares that can no longer be used: finished ones of any generation but `current`, and folders
 * whose maker died. Each is renamed into `trashDir` first (the name disappears at once), then deleted.
 * Needs no free space. Returns the generations removed.
 */
export async function tidySpares(repo: RepoLayout, trashDir: string): Promise<number[]> {
  const removed: number[] = [];
  for (const n of await listDir(spareRoot(repo))) {
    const m = MAKER.exec(n);
    if (m && !isProcessAlive(Number(m[1]))) await fsp.rm(path.join(spareRoot(repo), n), { force: true });
    const p = PROGRESS.exec(n);
    if (p && !isProcessAlive(Number(p[2]))) await fsp.rm(path.join(spareRoot(repo), n), { force: true });
  }
  for (const s of await listSpares(repo)) {
    if (s.state === 'ready' || s.state === 'making') continue;
    const tree = treeName(s.generation, s.kind);
    const name = s.state === 'leftover' && s.pid !== undefined ? `making-${tree}-${s.pid}` : tree;
    const from = path.join(spareRoot(repo), name);
    await mkdirp(trashDir);
    const to = tmpName(trashDir, `spare-${tree}`);
    try {
      await fsp.rename(from, to);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    if (!s.pid) await fsp.rm(spareRecordFile(repo, s.generation, s.kind), { force: true });
    await removePath(to);
    removed.push(s.generation);
  }
  return removed;
}

/** Every spare tree on disk (finished or not): verify counts the pool links they hold. */
export function spareTreesSync(repo: RepoLayout): string[] {
  const root = spareRoot(repo);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => MAKING.test(n) || READY.test(n)).map((n) => path.join(root, n));
}

/**
 * Wait (bounded) until no maker is at work in this repository: a clone in progress adds links while
 * `verify` counts them. Returns false when one is still at work at the deadline.
 */
export async function waitForMakers(repo: RepoLayout, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const pendingPid = Number((await fsp.readFile(repo.reactionPendingMarker(SPARE_REACTION), 'utf8').catch(() => '')).trim());
    const announced = isProcessAlive(pendingPid) || (await listDir(spareRoot(repo))).map((n) => MAKER.exec(n)).some((m) => m && isProcessAlive(Number(m[1])));
    const busy = announced || (await listSpares(repo)).some((s) => s.state === 'making');
    if (!busy) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
