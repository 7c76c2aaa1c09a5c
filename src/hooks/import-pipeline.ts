/**
 * THE import pipeline, used by `rcurepo import` (commands/import.ts) and by the incoming watcher
 * (watcher.ts). Read top-down:
 *
 *   source (paths, or one upload manifest of any kind) -> repository and format -> already delivered?
 *   -> inputs (walked paths, or the files the manifest names; plus the files each .dsc lists) -> prepare
 *   (staged in the pool and placed by the format, on threads when many) -> refusals (placement, manifest
 *   and .dsc hashes: one refusal, nothing kept)
 *   -> already current? -> group commit (few files) or a transaction of its own -> result
 *
 * Safe from many processes at once: files are copied and placed outside the lock, then queued; whoever
 * holds the writer lock publishes every queued import in one transaction (group-commit.ts). --dry-run
 * and bulk imports run a plain transaction of their own.
 */
import path from 'node:path';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import type { RepoConfig } from '../engine/repo.js';
import { readCurrent } from '../engine/generations.js';
import { planImport, prepareFiles } from '../engine/importer.js';
import type { ImportResult, PreparedFile, SourceFile } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import type { PlaceOptions, Format } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import { verifyUploader } from '../signing/uploader.js';
import { publishingTransaction } from '../publish/after-publish.js';
import { manifestKindFor, readManifest } from './manifest-kinds.js';
import type { UploadManifest } from './manifest-kinds.js';
import { collectInputs } from './inputs.js';
import { companionMismatches, withCompanions } from './companions.js';
import { importRefusal, manifestDist, manifestMismatches, namedFiles } from './manifest-files.js';
import { prepareThreadsFor } from './prepare-threads.js';
import { findDelivered, recordDelivered } from './delivered.js';
import { submitImport } from './group-commit.js';
import type { CommitGate } from './group-commit.js';
import { RcuError } from '../util/errors.js';
import { progress } from '../util/progress.js';
import { trace } from '../util/trace.js';

/** Imports of more files than this run their own transaction instead of joining a group commit. */
const GROUP_COMMIT_MAX_FILES = 256;

export interface ImportRequest {
  layout: Layout;
  /** The repository named by the caller; an upload manifest's target must agree with it (or supplies it). */
  repo?: string;
  /** The repository of a manifest that names none (the watcher's --repo); never overrides a target. */
  defaultRepo?: string;
  /** Files, directories and glob patterns, or exactly one upload manifest (chosen by its suffix). */
  paths: string[];
  cwd: string;
  prefix?: string;
  /** deb: the distribution and component a package goes to (defaults from the repository's settings). */
  dist?: string;
  component?: string;
  replace?: boolean;
  followSymlinks?: boolean;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
  /** Submitted together with other imports of this process: see CommitGate. */
  gate?: CommitGate;
}

export async function runImport(o: ImportRequest): Promise<ImportResult> {
  try {
    return await importOne(o);
  } finally {
    // Whatever way this import ended (answered, refused, its own transaction), the others go on.
    void o.gate?.arrive();
  }
}

async function importOne(o: ImportRequest): Promise<ImportResult> {
  const manifest = await readSource(o);
  const { repoName, config, format } = await openTarget(o.layout, manifest, o.repo, o.defaultRepo);
  const repo = o.layout.repo(repoName);
  if (manifest) {
    // Only keys the repository lists may upload, when it lists any (also for a re-delivery).
    const keyring = config.settings.uploadKeyring;
    if (typeof keyring === 'string') await verifyUploader(manifest.file, keyring, manifest.signedText);
    const before = await deliveredBefore(o.layout, repo, manifest);
    if (before) return before;
  }
  trace('import: start');
  const listed = manifest ? await namedFiles(manifest) : undefined;
  const named = listed ? listed.inputs : await collectInputs(o.paths, { cwd: o.cwd, followSymlinks: o.followSymlinks });
  const placeOpts: PlaceOptions = { prefix: o.prefix, dist: manifest ? manifestDist(manifest, repoName, config, o.dist) : o.dist, component: o.component, settings: config.settings };
  // A .dsc brings the files it lists (format companions), checked against its checksums after staging.
  const published = async (treePath: string, sha256: string) => {
    const gen = await readCurrent(repo);
    return gen !== undefined && (await new Pool(o.layout).compareFile(path.join(repo.snapshotDir(gen), treePath), sha256)) === 'same';
  };
  const { inputs, expected } = await withCompanions(format, named, placeOpts, { strict: !!manifest, followSymlinks: o.followSymlinks, published });
  // Prepared files keep their metadata in the pool's cache, not in memory (see prepareOne).
  const recordedMeta = (p: PreparedFile) => new Pool(o.layout).readMetaSync(p.staged.sha256, format.name);
  const prepared = await prepareAll(o.layout, format, inputs, placeOpts, (p) => [...(manifest && listed ? manifestMismatches(manifest, listed.byAbs, p) : []), ...companionMismatches(expected, p, recordedMeta)], manifest);
  const ctx: Publishing = { o, repo, repoName, format, config, manifest, prepared, inputs: inputs.length };
  return publish(ctx);
}

/** An upload manifest when the caller named one (it must come alone), else undefined: plain paths. */
async function readSource(o: ImportRequest): Promise<UploadManifest | undefined> {
  if (o.paths.length === 0) throw new RcuError('USAGE', 'import needs at least one PATH');
  const manifests = o.paths.filter((p) => manifestKindFor(p));
  if (manifests.length === 0) return undefined;
  if (o.paths.length !== 1) throw new RcuError('USAGE', `an upload manifest (${manifestKindFor(manifests[0]!)!.suffix}) is imported on its own: import REPO UPLOAD${manifestKindFor(manifests[0]!)!.suffix}`);
  return readManifest(path.resolve(o.cwd, manifests[0]!));
}

async function openTarget(layout: Layout, manifest: UploadManifest | undefined, named: string | undefined, dflt: string | undefined): Promise<{ repoName: string; config: RepoConfig; format: Format }> {
  const where = manifest ? `${manifest.file}: ` : '';
  if (manifest?.target !== undefined && named !== undefined && named !== manifest.target) {
    throw new RcuError('USAGE', `${where}the manifest targets repository '${manifest.target}', not '${named}'`);
  }
  const repoName = manifest?.target ?? named ?? dflt;
  if (repoName === undefined) throw new RcuError('USAGE', `${where}the manifest names no target repository: give one (import REPO ${manifest ? path.basename(manifest.file) : 'PATH'})`);
  let repo: RepoLayout;
  try {
    repo = layout.repo(repoName);
  } catch (e) {
    if (!manifest) throw e;
    throw new RcuError('NOT_FOUND', `${where}target '${repoName}' is not a valid repository name`, { cause: e });
  }
  const config = await readRepoConfig(repo).catch((e) => {
    if (manifest && e instanceof RcuError && e.code === 'NOT_FOUND') throw new RcuError('NOT_FOUND', `${where}no repository named '${repoName}' (the manifest's target)`);
    throw e;
  });
  return { repoName, config, format: await getFormat(config.format) };
}

/** A manifest published before, whose files the current generation still serves: answered, nothing imported. */
async function deliveredBefore(layout: Layout, repo: RepoLayout, m: UploadManifest): Promise<ImportResult | undefined> {
  const done = await findDelivered(layout, repo, m.key);
  if (!done) return undefined;
  const cur = (await readCurrent(repo)) ?? done.generation;
  return { ...noChange(repo.name, cur, done.generation), inputs: m.files.length, unchanged: done.files.map((f) => f.path), manifest: path.basename(m.file), alreadyPublished: done.generation };
}

/**
 * Stage and place every input (threads for many), then apply every check that refuses the whole import:
 * the format's placement refusals and `mismatches` (a manifest's and a .dsc's sha256 and size of each file
 * they list). Refused: nothing is kept, the error lists every reason.
 */
async function prepareAll(layout: Layout, format: Format, inputs: SourceFile[], placeOpts: PlaceOptions, mismatches: (prepared: readonly PreparedFile[]) => string[], manifest: UploadManifest | undefined): Promise<PreparedFile[]> {
  const bar = progress('reading', inputs.length);
  const parallel = prepareThreadsFor(layout.base, format.name, placeOpts, inputs.length);
  const { prepared, refused } = await prepareFiles(layout, format, inputs, { ...placeOpts, progress: bar, parallel });
  bar.done();
  trace(`import: prepared${parallel ? ` (${parallel.threads} threads)` : ''}`);
  refused.unshift(...mismatches(prepared));
  if (refused.length) {
    await new Pool(layout).discard(prepared.map((p) => p.staged));
    throw importRefusal(manifest ? path.basename(manifest.file) : undefined, refused);
  }
  return prepared;
}

interface Publishing {
  o: ImportRequest;
  repo: RepoLayout;
  repoName: string;
  format: Format;
  config: RepoConfig;
  manifest: UploadManifest | undefined;
  prepared: PreparedFile[];
  inputs: number;
}

/**
 * Group commit is for the many small calls of build bots. A bulk import is a transaction of its own: it
 * would fill a transaction alone anyway, and its request file would list every staged copy.
 */
async function publish(c: Publishing): Promise<ImportResult> {
  const { o, prepared, manifest } = c;
  const manifestName = manifest ? path.basename(manifest.file) : undefined;
  const discardAll = () => new Pool(o.layout).discard(prepared.map((p) => p.staged));
  if (!o.dryRun && prepared.length <= GROUP_COMMIT_MAX_FILES) {
    // A re-delivery of files the current snapshot already holds is answered without the lock (the
    // answer names that generation; a frozen repository still goes the long way, to say so).
    const known = c.config.frozen ? undefined : await alreadyCurrent(o.layout, c.repo, prepared);
    if (known) {
      await discardAll();
      if (manifest) await recordDelivered(c.repo, manifest.key, { generation: known.generation, manifest: manifestName!, files: delivered(prepared) });
      return { ...known, inputs: c.inputs, ...(manifestName ? { manifest: manifestName } : {}) };
    }
    return submitImport({
      layout: o.layout,
      repoName: c.repoName,
      format: c.format,
      prepared,
      inputs: c.inputs,
      args: manifest ? [manifestName!, ...manifest.files.map((f) => f.path)] : o.paths,
      replace: o.replace,
      actor: o.actor,
      waitSeconds: o.waitSeconds,
      onWait: o.onWait,
      manifest: manifest ? { key: manifest.key, name: manifestName! } : undefined,
      gate: o.gate,
    });
  }
  // A transaction of its own does not hold back the imports submitted with it.
  void o.gate?.arrive();
  let unchanged: string[] = [];
  let deliveredFiles: ReturnType<typeof delivered> | undefined;
  const res = await publishingTransaction(
    {
      layout: o.layout,
      repoName: c.repoName,
      format: c.format,
      operation: 'import',
      args: manifest ? [manifestName!, ...manifest.files.map((f) => f.path)] : o.paths,
      actor: o.actor,
      waitSeconds: o.waitSeconds,
      dryRun: o.dryRun,
      onWait: o.onWait,
    },
    async (state) => {
      const plan = await planImport(state, prepared, { replace: o.replace });
      unchanged = plan.unchanged;
      // Identical files need no staged copy.
      const same = new Set(unchanged);
      await new Pool(o.layout).discard(prepared.filter((p) => same.has(p.placement.treePath)).map((p) => p.staged));
      // From here the transaction owns the staged copies of its adds (it commits or discards them). Letting
      // go of the prepared records (inputs, placements, staged copies) keeps a bulk import's 50,000 of them,
      // ~30 MiB, off the heap while its index is written.
      deliveredFiles = manifest ? delivered(prepared) : undefined;
      prepared.length = 0;
      return plan.change;
    },
  ).finally(discardAll);
  if (manifest && !o.dryRun) await recordDelivered(c.repo, manifest.key, { generation: res.generation, manifest: manifestName!, files: deliveredFiles ?? [] });
  return { ...res, inputs: c.inputs, unchanged, ...(manifestName ? { manifest: manifestName } : {}) };
}

function delivered(prepared: readonly PreparedFile[]): Array<{ path: string; sha256: string }> {
  return prepared.map((p) => ({ path: p.placement.treePath, sha256: p.staged.sha256 }));
}

function noChange(repoName: string, current: number, generation: number): Omit<ImportResult, 'inputs' | 'unchanged'> {
  return { repo: repoName, published: false, dryRun: false, parent: current, generation, added: [], removed: [], replaced: [], warnings: [] };
}

/** The result of a no-op import when every prepared file is already in the current snapshot, else undefined. */
async function alreadyCurrent(layout: Layout, repo: RepoLayout, prepared: readonly PreparedFile[]): Promise<Omit<ImportResult, 'inputs'> | undefined> {
  const gen = await readCurrent(repo);
  if (gen === undefined || prepared.length === 0) return undefined;
  const pool = new Pool(layout);
  const dir = repo.snapshotDir(gen);
  for (const p of prepared) if ((await pool.compareFile(path.join(dir, p.placement.treePath), p.staged.sha256)) !== 'same') return undefined;
  return { ...noChange(repo.name, gen, gen), unchanged: prepared.map((p) => p.placement.treePath) };
}
