/**
 * What a repository page shows (`/REPO/@rcurepo/`, as HTML or JSON): the generation being read, the
 * current one, recent history with what each publish changed, the packages of the generation (the
 * format's own view of its entries, through Format.packageOf, so a new format gets a package list by
 * implementing it), leases, pins, the writer lock holder, and each configured mirror's lag.
 */
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { parseGeneration } from '../engine/layout.js';
import { listHistory, listSnapshots, readCurrent, readHistory, readManifest } from '../engine/generations.js';
import type { HistoryRecord } from '../engine/generations.js';
import { readLockHolder } from '../engine/lock.js';
import { readRepoConfig } from '../engine/repo.js';
import type { PackageRow } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import { listLeases } from './leases.js';
import { mirrorStatus } from './mirror-status.js';
import type { MirrorLag } from './mirror-status.js';

const HISTORY_SHOWN = 15;
/** Rows of the package table sent at most; the search narrows the rest. */
export const PACKAGES_SHOWN = 2000;

export interface PackageEntry extends PackageRow {
  size: number;
  path: string;
}

export interface RepoPageData {
  repo: string;
  format: string;
  generation: number;
  current: number | undefined;
  snapshots: number[];
  history: HistoryRecord[];
  packages: { total: number; matching: number; query: string; rows: PackageEntry[] } | null;
  leases: Array<{ id: string; generation: number; holder: string; pid: number | null; expires: string; state: string }>;
  pins: Array<{ generation: number; since?: string; reason?: string | null }>;
  lock: { pid: number; user: string; host: string; operation: string; since: string } | null;
  /** Each mirror configured for the repository (settings.mirrors), with what its last pushes recorded. */
  mirrors: MirrorLag[];
}

/** Package lists per (repository, generation): a generation never changes, so they never go stale. */
const packageCache = new Map<string, PackageEntry[] | null>();

async function packagesOf(layout: Layout, repoName: string, format: string, gen: number): Promise<PackageEntry[] | null> {
  const key = `${repoName}\0${gen}`;
  const hit = packageCache.get(key);
  if (hit !== undefined) return hit;
  const fmt = await getFormat(format).catch(() => undefined);
  let rows: PackageEntry[] | null = null;
  if (fmt?.packageOf) {
    const entries = (await readManifest(layout.repo(repoName), gen)) ?? [];
    rows = [];
    for (const e of entries) {
      const p = fmt.packageOf(e);
      if (p) rows.push({ ...p, size: e.size, path: e.path });
    }
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : Number(b.release ?? 0) - Number(a.release ?? 0)));
  }
  if (packageCache.size >= 8) packageCache.delete(packageCache.keys().next().value!);
  packageCache.set(key, rows);
  return rows;
}

async function pinsOf(dir: string): Promise<RepoPageData['pins']> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const out: RepoPageData['pins'] = [];
  for (const n of names) {
    const gen = parseGeneration(n);
    if (gen === undefined) continue;
    const rec = await fsp.readFile(`${dir}/${n}`, 'utf8').then((t) => JSON.parse(t) as { since?: string; reason?: string | null }, () => ({}) as { since?: string; reason?: string | null });
    out.push({ generation: gen, since: rec.since, reason: rec.reason });
  }
  return out.sort((a, b) => b.generation - a.generation);
}

/** Everything the page shows, for generation `gen` (leased by the caller). */
export async function repoPageData(layout: Layout, repoName: string, gen: number, query: string): Promise<RepoPageData> {
  const repo = layout.repo(repoName);
  const [cfg, current, snapshots, hist, leases, pins, holder] = await Promise.all([
    readRepoConfig(repo),
    readCurrent(repo),
    listSnapshots(repo),
    listHistory(repo),
    listLeases(layout, repoName).catch(() => []),
    pinsOf(repo.pinsDir),
    readLockHolder(repo.lockTarget).catch(() => undefined),
  ]);
  const recent = hist.slice(-HISTORY_SHOWN).reverse();
  const history = (await Promise.all(recent.map((g) => readHistory(repo, g).catch(() => undefined)))).filter((r): r is HistoryRecord => !!r);
  const all = await packagesOf(layout, repoName, cfg.format, gen);
  const q = query.trim().toLowerCase();
  const matching = all ? (q ? all.filter((p) => p.name.toLowerCase().includes(q)) : all) : null;
  return {
    repo: repoName,
    format: cfg.format,
    generation: gen,
    current,
    snapshots,
    history,
    packages: all && matching ? { total: all.length, matching: matching.length, query, rows: matching.slice(0, PACKAGES_SHOWN) } : null,
    leases: leases.map((l) => ({ id: l.id, generation: l.generation, holder: l.holder, pid: l.pid ?? null, expires: l.expires, state: l.state })),
    pins,
    // The lock token is a capability (it proves ownership): never shown.
    lock: holder ? { pid: holder.pid, user: holder.user, host: holder.host, operation: holder.operation, since: holder.since } : null,
    mirrors: await mirrorStatus(repo, cfg.settings, current),
  };
}
