/**
 * Reader leases (rcu-protocol.md, "Readers and leases"): `repos/NAME/leases/GEN/ID.json`, created with
 * O_EXCL, renewed by temp + rename. The id is `REPO.GEN.TAG`, so renew/release find the file without a scan.
 * Reader protocol: resolve the generation once, create the lease, THEN check the condemned marker and
 * that the snapshot exists; the reaper does the mirror image (marker, then leases), so one side always
 * sees the other.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { parseGeneration } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { listRepoNames, readRepoConfig } from '../engine/repo.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { mkdirp, pathExists, writeFileAtomic } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';
import { DEFAULT_LEASE_TTL, readReaderSettings } from './settings.js';

export interface LeaseRecord {
  id: string;
  repo: string;
  generation: number;
  holder: string;
  /** Holder process; the lease dies with it (same host only). */
  pid: number | null;
  host: string;
  expires: string;
  created: string;
}

export type Liveness = 'live' | 'expired' | 'holder-dead';

export interface AcquireLeaseOptions {
  gen?: number;
  ttlSeconds?: number;
  holder?: string;
  pid?: number | null;
  /** A fixed last id component (e.g. `rsync-PID`) instead of a random one. */
  tag?: string;
  attempts?: number;
  /** Called before resolving again after a condemned/reaped generation (tests use it to publish). */
  onRetry?: (gen: number) => Promise<void>;
}

export interface AcquiredLease {
  record: LeaseRecord;
  path: string;
  /** Requested TTL was above the repository's maximum and was lowered to it. */
  clamped: boolean;
}

/** Lease ids are `REPO.GEN.TAG`; repository names may hold dots, so parse from the right. */
export function parseLeaseId(id: string): { repo: string; gen: number; tag: string } {
  const m = /^(.+)\.([0-9]+)\.([A-Za-z0-9_-]+)$/.exec(id);
  const gen = m ? parseGeneration(m[2]!) : undefined;
  if (!m || gen === undefined) throw new RcuError('USAGE', `'${id}' is not a lease id (REPO.GEN.TAG)`);
  return { repo: m[1]!, gen, tag: m[3]! };
}

export function leaseFile(repo: RepoLayout, gen: number, id: string): string {
  return path.join(repo.leaseDir(gen), `${id}.json`);
}

export function liveness(rec: LeaseRecord, now = Date.now()): Liveness {
  const exp = Date.parse(rec.expires);
  if (!(exp > now)) return 'expired';
  if (rec.pid && rec.host === os.hostname() && !isProcessAlive(rec.pid)) return 'holder-dead';
  return 'live';
}

/** A generation a reader may use: not condemned, snapshot present. Call only AFTER creating the lease. */
export async function generationUsable(repo: RepoLayout, gen: number): Promise<boolean> {
  if (await pathExists(repo.condemnedMarker(gen))) return false;
  return pathExists(repo.snapshotDir(gen));
}

function body(rec: LeaseRecord): string {
  return JSON.stringify(rec) + '\n';
}

/** Create the lease file (O_EXCL). No validation: callers follow the reader protocol. */
export async function createLeaseFile(repo: RepoLayout, rec: LeaseRecord): Promise<string> {
  const file = leaseFile(repo, rec.generation, rec.id);
  for (let i = 0; ; i++) {
    try {
      await fsp.writeFile(file, body(rec), { flag: 'wx', mode: 0o644 });
      return file;
    } catch (e) {
      // The reaper removes a reaped generation's lease directory; make it again and retry once.
      if (errnoCode(e) === 'ENOENT' && i === 0) {
        await mkdirp(repo.leaseDir(rec.generation));
        continue;
      }
      if (errnoCode(e) === 'EEXIST') throw new RcuError('EXISTS', `lease ${rec.id} already exists`);
      throw e;
    }
  }
}

export async function maxTtl(repo: RepoLayout): Promise<number> {
  return (await readReaderSettings(repo)).leaseMaxTtlSeconds;
}

export function newRecord(repoName: string, gen: number, opts: { ttlSeconds: number; holder?: string; pid?: number | null; tag?: string }): LeaseRecord {
  const now = Date.now();
  const tag = opts.tag ?? randomBytes(6).toString('hex');
  return {
    id: `${repoName}.${gen}.${tag}`,
    repo: repoName,
    generation: gen,
    holder: opts.holder ?? `${os.userInfo().username}@${os.hostname()}`,
    pid: opts.pid ?? null,
    host: os.hostname(),
    expires: new Date(now + opts.ttlSeconds * 1000).toISOString(),
    created: new Date(now).toISOString(),
  };
}

/**
 * Take a validated lease. Without `gen`, resolves `current` and starts again (bounded) when the
 * generation it got was condemned or reaped meanwhile; with `gen`, such a generation is NOT_FOUND.
 */
export async function acquireLease(layout: Layout, repoName: string, opts: AcquireLeaseOptions = {}): Promise<AcquiredLease> {
  const repo = layout.repo(repoName);
  await readRepoConfig(repo); // NOT_FOUND for unknown repositories
  const max = await maxTtl(repo);
  let ttl = opts.ttlSeconds ?? Math.min(DEFAULT_LEASE_TTL, max);
  if (!(ttl > 0)) throw new RcuError('USAGE', `--ttl must be a positive number of seconds`);
  const clamped = ttl > max;
  if (clamped) ttl = max;
  const attempts = opts.attempts ?? 20;
  for (let i = 0; i < attempts; i++) {
    const gen = opts.gen ?? (await readCurrent(repo));
    if (gen === undefined) throw new RcuError('NOT_FOUND', `repository '${repoName}' has no current snapshot`);
    const rec = newRecord(repoName, gen, { ...opts, ttlSeconds: ttl });
    const file = await createLeaseFile(repo, rec);
    if (await generationUsable(repo, gen)) return { record: rec, path: repo.snapshotDir(gen), clamped };
    await fsp.rm(file, { force: true });
    if (opts.gen !== undefined) {
      throw new RcuError('NOT_FOUND', `generation ${gen} of '${repoName}' is reaped or being reaped`);
    }
    await opts.onRetry?.(gen);
    // Give the reaper time to finish and a writer time to move `current` before resolving again.
    await new Promise((r) => setTimeout(r, Math.min(50 * (i + 1), 500)));
  }
  throw new RcuError('BUSY', `could not lease a generation of '${repoName}' in ${attempts} attempts (the reaper keeps condemning them)`);
}

export async function readLease(layout: Layout, id: string): Promise<{ rec: LeaseRecord; file: string; repo: RepoLayout }> {
  const p = parseLeaseId(id);
  const repo = layout.repo(p.repo);
  const file = leaseFile(repo, p.gen, id);
  let rec: LeaseRecord;
  try {
    rec = JSON.parse(await fsp.readFile(file, 'utf8')) as LeaseRecord;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new RcuError('NOT_FOUND', `no lease ${id} (released, or its generation was reaped)`);
    if (e instanceof SyntaxError) throw new RcuError('INTEGRITY', `${file}: not valid JSON`);
    throw e;
  }
  return { rec, file, repo };
}

/** Extend a lease to now + ttl. A lease that already died cannot come back: its generation may be gone. */
export async function renewLease(layout: Layout, id: string, ttlSeconds?: number): Promise<AcquiredLease> {
  const { rec, file, repo } = await readLease(layout, id);
  const state = liveness(rec);
  if (state !== 'live') throw new RcuError('NOT_FOUND', `lease ${id} is ${state === 'expired' ? 'expired' : 'dead (holder gone)'}; acquire a new one`);
  const max = await maxTtl(repo);
  let ttl = ttlSeconds ?? Math.min(DEFAULT_LEASE_TTL, max);
  if (!(ttl > 0)) throw new RcuError('USAGE', `--ttl must be a positive number of seconds`);
  const clamped = ttl > max;
  if (clamped) ttl = max;
  const next: LeaseRecord = { ...rec, expires: new Date(Date.now() + ttl * 1000).toISOString() };
  await writeFileAtomic(file, body(next), { syncDir: false });
  return { record: next, path: repo.snapshotDir(rec.generation), clamped };
}

export async function releaseLease(layout: Layout, id: string): Promise<{ released: boolean }> {
  const p = parseLeaseId(id);
  const file = leaseFile(layout.repo(p.repo), p.gen, id);
  try {
    await fsp.unlink(file);
    return { released: true };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { released: false };
    throw e;
  }
}

async function readDirNames(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return [];
    throw e;
  }
}

/**
 * Leases of one generation. A file being created (O_EXCL then write) can be momentarily empty: it
 * counts as live, its writer is about to validate.
 */
export async function leasesOf(repo: RepoLayout, gen: number): Promise<Array<{ rec: LeaseRecord | undefined; file: string; state: Liveness }>> {
  const out: Array<{ rec: LeaseRecord | undefined; file: string; state: Liveness }> = [];
  const dir = repo.leaseDir(gen);
  for (const n of await readDirNames(dir)) {
    if (!n.endsWith('.json')) continue;
    const file = path.join(dir, n);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue;
      throw e;
    }
    try {
      const rec = JSON.parse(text) as LeaseRecord;
      out.push({ rec, file, state: liveness(rec) });
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      out.push({ rec: undefined, file, state: 'live' });
    }
  }
  return out;
}

export async function hasLiveLease(repo: RepoLayout, gen: number): Promise<boolean> {
  return (await leasesOf(repo, gen)).some((l) => l.state === 'live');
}

export interface LeaseListing extends LeaseRecord {
  state: Liveness;
}

export async function listLeases(layout: Layout, repoName?: string): Promise<LeaseListing[]> {
  const names = repoName ? [repoName] : await listRepoNames(layout);
  const out: LeaseListing[] = [];
  for (const name of names) {
    const repo = layout.repo(name);
    if (repoName) await readRepoConfig(repo);
    for (const g of await readDirNames(repo.leasesDir)) {
      const gen = parseGeneration(g);
      if (gen === undefined) continue;
      for (const l of await leasesOf(repo, gen)) if (l.rec) out.push({ ...l.rec, state: l.state });
    }
  }
  return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.generation - b.generation || a.created.localeCompare(b.created));
}
