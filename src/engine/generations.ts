/**
 * Generations: the current pointer, the never-reused counter, and per-generation metadata kept outside
 * the served tree (history records, manifests, supersede times). All of it except `current` and the
 * trees is a cache that `verify --repair` rebuilds.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { RepoLayout } from './layout.js';
import { parseGeneration } from './layout.js';
import type { TreeEntry } from '../formats/format.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { fsyncPath, listDir, mkdirp, readJsonIfExists, tmpName, writeFileAtomic } from '../util/fsx.js';

export interface HistoryRecord {
  generation: number;
  parent: number | null;
  time: string;
  actor: string;
  operation: string;
  args: string[];
  added: number;
  removed: number;
  replaced: number;
  files: number;
  bytes: number;
  /** A few changed paths for `history`; the full change is `diff`. */
  changes?: { added: string[]; removed: string[]; replaced: string[]; truncated: boolean };
  /** Seconds from the transaction's start to this record (all of the publish but the swap). */
  durationSeconds?: number;
  /** Set by `verify --repair` when the record was reconstructed from the trees. */
  reconstructed?: boolean;
}

/** The generation `current` points to (undefined if the repository has no current link yet). */
export async function readCurrent(repo: RepoLayout): Promise<number | undefined> {
  let target: string;
  try {
    target = await fsp.readlink(repo.currentLink);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const m = /^snapshots\/([0-9]+)$/.exec(target);
  const gen = m ? parseGeneration(m[1]!) : undefined;
  if (gen === undefined) throw new RcuError('INTEGRITY', `${repo.currentLink} points to '${target}', not a snapshot`);
  return gen;
}

export async function requireCurrent(repo: RepoLayout): Promise<number> {
  const g = await readCurrent(repo);
  if (g === undefined) throw new RcuError('INTEGRITY', `repository '${repo.name}' has no current snapshot (${repo.currentLink} missing)`);
  return g;
}

/** Generations whose snapshot directory exists, ascending. */
export async function listSnapshots(repo: RepoLayout): Promise<number[]> {
  return (await listDir(repo.snapshotsDir)).map(parseGeneration).filter((g): g is number => g !== undefined).sort((a, b) => a - b);
}

async function listNumbered(dir: string, suffix: string): Promise<number[]> {
  return (await listDir(dir))
    .filter((n) => n.endsWith(suffix))
    .map((n) => parseGeneration(n.slice(0, n.length - suffix.length)))
    .filter((g): g is number => g !== undefined)
    .sort((a, b) => a - b);
}

export const listHistory = (repo: RepoLayout) => listNumbered(repo.historyDir, '.json');

/**
 * Allocate the next generation: one more than anything ever seen (counter, snapshots, history).
 * The counter is written durably BEFORE the generation is used, so a crash can never reuse it.
 */
export async function allocateGeneration(repo: RepoLayout): Promise<number> {
  const text = await fsp.readFile(repo.generationCounterFile, 'utf8').catch((e) => {
    if (errnoCode(e) === 'ENOENT') return '0';
    throw e;
  });
  const known = [Number(text.trim()) || 0, ...(await listSnapshots(repo)), ...(await listHistory(repo))];
  const next = Math.max(...known) + 1;
  await writeFileAtomic(repo.generationCounterFile, `${next}\n`);
  return next;
}

export async function readHistory(repo: RepoLayout, gen: number): Promise<HistoryRecord | undefined> {
  return readJsonIfExists<HistoryRecord>(repo.historyFile(gen));
}

export async function writeHistory(repo: RepoLayout, rec: HistoryRecord): Promise<void> {
  await mkdirp(repo.historyDir);
  await writeFileAtomic(repo.historyFile(rec.generation), JSON.stringify(rec, null, 1) + '\n', { syncDir: false, syncData: false });
}

/** Manifest line: sha256 TAB size TAB path (path last: it may contain tabs). Sorted by path. */
export function serializeManifest(entries: readonly TreeEntry[]): string {
  let s = '';
  for (const e of entries) s += `${e.sha256}\t${e.size}\t${e.path}\n`;
  return s;
}

export function parseManifest(text: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const t1 = text.indexOf('\t', pos);
    const t2 = text.indexOf('\t', t1 + 1);
    if (t1 !== pos + 64 || t2 < 0 || t2 > nl) throw new Error(`malformed manifest line at offset ${pos}`);
    out.push({ sha256: text.slice(pos, t1), size: Number(text.slice(t1 + 1, t2)), path: text.slice(t2 + 1, nl) });
    pos = nl + 1;
  }
  return out;
}

export async function readManifest(repo: RepoLayout, gen: number): Promise<TreeEntry[] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(repo.manifestFile(gen), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return parseManifest(text);
  } catch {
    return undefined; // a damaged cache is a missing cache
  }
}

export async function writeManifest(repo: RepoLayout, gen: number, entries: readonly TreeEntry[]): Promise<void> {
  await mkdirp(repo.manifestsDir);
  await writeFileAtomic(repo.manifestFile(gen), serializeManifest(entries), { syncDir: false, syncData: false });
}

/** Record when `gen` stopped being current: its grace period starts now. */
export async function markSuperseded(repo: RepoLayout, gen: number, when = new Date()): Promise<void> {
  await mkdirp(repo.supersededDir);
  await writeFileAtomic(repo.supersededFile(gen), when.toISOString() + '\n');
}

export async function readSuperseded(repo: RepoLayout, gen: number): Promise<Date | undefined> {
  return readSupersededSync(repo, gen);
}

/** When `gen` was superseded, read synchronously: one small file (cleanup reads one per generation on every publish). */
export function readSupersededSync(repo: RepoLayout, gen: number): Date | undefined {
  try {
    const d = new Date(fs.readFileSync(repo.supersededFile(gen), 'utf8').trim());
    return Number.isNaN(d.getTime()) ? undefined : d;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The linearization point: point `current` at snapshots/<gen> with one rename(2) of a fresh symlink,
 * then fsync the repository directory. Never unlink+symlink (that leaves a window with no path).
 */
export async function swapCurrent(repo: RepoLayout, gen: number): Promise<void> {
  const tmp = tmpName(repo.dir, 'current');
  await fsp.symlink(repo.currentTarget(gen), tmp);
  try {
    await fsp.rename(tmp, repo.currentLink);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(repo.dir);
}
