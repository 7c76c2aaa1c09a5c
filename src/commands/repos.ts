/** `create-repo`, `list-repos`, `delete-repo`. */
import fsp from 'node:fs/promises';
import path from 'node:path';

import { RepoLayout, validateRepoName } from '../engine/layout.js';
import { listRepoNames, openBase, readRepoConfig } from '../engine/repo.js';
import type { RepoConfig, UpstreamConfig } from '../engine/repo.js';
import { checkMirrorFormatName, mirrorFormat } from '../distribution/sync-format.js';
import { parseUpstream } from '../distribution/sync-upstream.js';
import { defaultActor } from '../engine/transaction.js';
import { readCurrent, writeHistory, writeManifest, listSnapshots } from '../engine/generations.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { sweepPool } from '../engine/sweep.js';
import { getFormat } from '../formats/registry.js';
import { runAfterPublish } from '../publish/after-publish.js';
import { debCreateSettings, type DebCreateOptions } from './deb-dists.js';
import { removeRsyncFragment } from '../readers/rsyncd.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { fsyncPath, mkdirp, pathExists, removePath, syncFilesystem, tmpName, writeFileAtomic } from '../util/fsx.js';

export interface CreateRepoOptions {
  base: string;
  name: string;
  format?: string;
  /** Make a mirror of this upstream (rsync://, ssh:// or a local path); it changes only by `sync`. */
  upstream?: string;
  /** Keyring the mirror's upstream signatures must verify against. */
  keyring?: string;
  /** deb: the first distribution and the layout (see DebCreateOptions). */
  deb?: DebCreateOptions;
  /** Format settings taken as they are (a clone copies its source's); overrides `deb`. */
  settings?: Record<string, unknown>;
  dryRun?: boolean;
}

export interface CreateRepoResult {
  repo: string;
  format: string;
  upstream?: string;
  generation: number;
  path: string;
  dryRun: boolean;
  /** After-publish steps that failed (the repository exists regardless). */
  warnings?: string[];
}

/**
 * A repository is built complete under a temporary name (config, generation 1 with empty indexes, the
 * `current` link) and renamed into place: it either exists whole or not at all.
 */
export async function createRepo(opts: CreateRepoOptions): Promise<CreateRepoResult> {
  const layout = await openBase(opts.base);
  const name = validateRepoName(opts.name);
  if (opts.keyring && !opts.upstream) throw new RcuError('USAGE', '--keyring is for mirrors (with --upstream)');
  const upstream = opts.upstream ? await mirrorSettings(opts.upstream, opts.keyring, opts.format ?? 'files') : undefined;
  // A mirror writes no index of its own: generation 1 is an empty tree until the first sync.
  const format = upstream ? mirrorFormat(opts.format ?? 'files', upstream) : await getFormat(opts.format ?? 'files');
  const debGiven = opts.deb && Object.values(opts.deb).some((v) => v !== undefined && v !== false);
  if (debGiven && format.name !== 'deb') throw new RcuError('USAGE', `--dist, --suite, --components, --architectures, --origin, --label and --flat apply to --format deb`);
  const settings: Record<string, unknown> = opts.settings ?? (format.name === 'deb' && !upstream ? await debCreateSettings(opts.deb ?? {}) : {});
  const final = layout.repo(name);
  if (await pathExists(final.dir)) throw new RcuError('EXISTS', `repository '${name}' already exists`);
  const result = { repo: name, format: format.name, ...(upstream ? { upstream: upstream.url } : {}), generation: 1, path: final.currentLink, dryRun: !!opts.dryRun };
  if (opts.dryRun) return result;
  const tmpDir = tmpName(layout.reposDir, `new-${name}`);
  const tmp = new RepoLayout(tmpDir, name);
  try {
    for (const d of [tmp.snapshotsDir, tmp.stagingDir, tmp.metaDir, tmp.leasesDir]) await mkdirp(d);
    const config: RepoConfig = { configVersion: 1, name, format: format.name, createdAt: new Date().toISOString(), settings, ...(upstream ? { upstream } : {}) };
    await writeFileAtomic(tmp.configFile, JSON.stringify(config, null, 2) + '\n');
    const snap = tmp.snapshotDir(1);
    await fsp.mkdir(snap);
    await format.writeIndexes({
      layout,
      repo: tmp,
      settings: config.settings,
      stagingDir: snap,
      entries: [],
      loadMeta: async () => undefined,
      cacheDir: tmp.formatCacheDir(format.name),
    });
    await writeManifest(tmp, 1, []);
    await writeHistory(tmp, {
      generation: 1,
      parent: null,
      time: config.createdAt,
      actor: defaultActor(),
      operation: 'create-repo',
      args: [name, '--format', format.name, ...(upstream ? ['--upstream', upstream.url] : [])],
      added: 0,
      removed: 0,
      replaced: 0,
      files: 0,
      bytes: 0,
    });
    await writeFileAtomic(tmp.generationCounterFile, '1\n');
    await fsp.symlink(tmp.currentTarget(1), tmp.currentLink);
    await syncFilesystem(tmpDir, () => [snap, tmp.snapshotsDir, tmpDir]);
    try {
      await fsp.rename(tmpDir, final.dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOTEMPTY' || errnoCode(e) === 'EEXIST') throw new RcuError('EXISTS', `repository '${name}' already exists`);
      throw e;
    }
    await fsyncPath(layout.reposDir);
  } finally {
    await removePath(tmpDir);
  }
  // The first generation gets the same reactions as every publish (its rsync module, hooks).
  const warnings = await runAfterPublish(layout, name, 1, final.snapshotDir(1));
  return warnings.length ? { ...result, warnings } : result;
}

async function mirrorSettings(url: string, keyring: string | undefined, format: string): Promise<UpstreamConfig> {
  checkMirrorFormatName(format);
  parseUpstream(url); // USAGE for a URL rsync could not be pointed at
  if (keyring === undefined) return { url };
  const abs = path.resolve(keyring);
  if (!(await pathExists(abs))) throw new RcuError('BAD_INPUT', `keyring ${abs}: no such file`);
  return { url, keyring: abs };
}

export interface RepoSummary {
  name: string;
  format: string;
  current: number | undefined;
  snapshots: number;
  frozen: boolean;
  path: string;
}

export async function listRepos(opts: { base: string }): Promise<RepoSummary[]> {
  const layout = await openBase(opts.base);
  const out: RepoSummary[] = [];
  for (const name of await listRepoNames(layout)) {
    const repo = layout.repo(name);
    const cfg = await readRepoConfig(repo);
    out.push({ name, format: cfg.format, current: await readCurrent(repo), snapshots: (await listSnapshots(repo)).length, frozen: !!cfg.frozen, path: repo.currentLink });
  }
  return out;
}

export interface DeleteRepoOptions {
  base: string;
  name: string;
  force?: boolean;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export interface DeleteRepoResult {
  repo: string;
  deleted: boolean;
  dryRun: boolean;
  blobsFreed: number;
  bytesFreed: number;
}

/** Under the repository's lock: rename the whole folder away (the name vanishes at once), delete, sweep. */
export async function deleteRepo(opts: DeleteRepoOptions): Promise<DeleteRepoResult> {
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.name);
  await readRepoConfig(repo); // NOT_FOUND
  if (!opts.force && !opts.dryRun) throw new RcuError('USAGE', `delete-repo removes '${opts.name}' and all its snapshots: repeat with --force`);
  if (opts.dryRun) return { repo: opts.name, deleted: false, dryRun: true, blobsFreed: 0, bytesFreed: 0 };
  const lock = await acquireWriterLock(repo.lockTarget, { operation: 'delete-repo', waitSeconds: opts.waitSeconds ?? 300, onWait: opts.onWait });
  const doomed = tmpName(layout.reposDir, `deleted-${opts.name}`);
  try {
    await fsp.rename(repo.dir, doomed);
    await fsyncPath(layout.reposDir);
  } catch (e) {
    await lock.release().catch(() => undefined);
    throw e;
  }
  await lock.release().catch(() => undefined); // its folder went with the repository
  await removeRsyncFragment(layout, opts.name);
  await removePath(doomed);
  const swept = await sweepPool(layout);
  return { repo: opts.name, deleted: true, dryRun: false, blobsFreed: swept.removed, bytesFreed: swept.bytesFreed };
}

