/** Reading commands: `list`, `history`, `diff`. */
import { openBase, readRepoConfig } from '../engine/repo.js';
import { listHistory, readHistory, requireCurrent, listSnapshots } from '../engine/generations.js';
import type { HistoryRecord } from '../engine/generations.js';
import { loadEntries } from '../engine/snapshot-state.js';
import type { TreeEntry } from '../formats/format.js';
import { formatOfRepo } from './repo-format.js';
import { RcuError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';

export interface ListOptions {
  base: string;
  repo: string;
  generation?: number;
}

export interface ListResult {
  repo: string;
  generation: number;
  entries: TreeEntry[];
}

async function entriesOf(base: string, repoName: string, gen: number | undefined): Promise<{ generation: number; entries: TreeEntry[]; format: string }> {
  const layout = await openBase(base);
  const repo = layout.repo(repoName);
  const format = await formatOfRepo(await readRepoConfig(repo));
  const generation = gen ?? (await requireCurrent(repo));
  if (!(await pathExists(repo.snapshotDir(generation))) && !(await pathExists(repo.manifestFile(generation)))) {
    throw new RcuError('NOT_FOUND', `generation ${generation} of '${repoName}' does not exist (reaped or never published)`);
  }
  return { generation, entries: await loadEntries(layout, repo, generation, format), format: format.name };
}

export async function listEntries(opts: ListOptions): Promise<ListResult> {
  const { generation, entries } = await entriesOf(opts.base, opts.repo, opts.generation);
  return { repo: opts.repo, generation, entries };
}

export interface HistoryEntry extends HistoryRecord {
  current: boolean;
  kept: boolean;
  format?: string;
}

export async function history(opts: { base: string; repo: string; limit?: number }): Promise<HistoryEntry[]> {
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.repo);
  const { format } = await readRepoConfig(repo);
  const current = await requireCurrent(repo);
  const kept = new Set(await listSnapshots(repo));
  const gens = (await listHistory(repo)).filter((g) => g <= current).reverse();
  const out: HistoryEntry[] = [];
  for (const g of gens.slice(0, opts.limit ?? gens.length)) {
    const rec = await readHistory(repo, g);
    if (rec) out.push({ ...rec, current: g === current, kept: kept.has(g), format });
  }
  return out;
}

export interface DiffResult {
  repo: string;
  format?: string;
  from: number;
  to: number;
  added: TreeEntry[];
  removed: TreeEntry[];
  changed: Array<{ path: string; from: TreeEntry; to: TreeEntry }>;
}

export async function diff(opts: { base: string; repo: string; from: number; to: number }): Promise<DiffResult> {
  const a = await entriesOf(opts.base, opts.repo, opts.from);
  const b = await entriesOf(opts.base, opts.repo, opts.to);
  const am = new Map(a.entries.map((e) => [e.path, e]));
  const bm = new Map(b.entries.map((e) => [e.path, e]));
  const res: DiffResult = { repo: opts.repo, format: a.format, from: opts.from, to: opts.to, added: [], removed: [], changed: [] };
  for (const e of b.entries) {
    const old = am.get(e.path);
    if (!old) res.added.push(e);
    else if (old.sha256 !== e.sha256) res.changed.push({ path: e.path, from: old, to: e });
  }
  for (const e of a.entries) if (!bm.has(e.path)) res.removed.push(e);
  return res;
}
