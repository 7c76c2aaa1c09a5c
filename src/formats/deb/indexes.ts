/**
 * Everything a deb publish writes into the staging tree, per distribution (`dists/<codename>/`, mirrored
 * as `dists/<suite>/` by hard links when they differ; the tree root for a flat repository):
 * `<component>/binary-<arch>/Packages.{xz,gz}` and `<component>/source/Sources.{xz,gz}` (the
 * uncompressed files are hashed for Release, not shipped), by-hash links for each, by-hash files carried forward from recent generations, and Release.
 * Release's Date never goes back, and Origin/Label/Codename never change without an explicit acceptance.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { IndexContext } from '../format.js';
import { writeIndexStreaming, type PartRenderer, type WrittenIndex } from '../shared/chunk-writer.js';
import { BlockCache } from '../shared/block-cache.js';
import { StalePlanError } from '../shared/chunks.js';
import { DEFAULT_XZ_PRESET, xzArgs } from '../shared/xz-blocks.js';
import { coolXz, warmXz } from '../shared/xz-warm.js';
import { tmpName, mkdirp } from '../../util/fsx.js';
import { trace } from '../../util/trace.js';
import { signFiles, signingSettingsOf, type SignJob } from '../../signing/index.js';
import { carryForward, linkByHash, recentSnapshots } from './by-hash.js';
import { packagesByComponent, planIdOf, planPackages, planPackagesFrom, selectArch, stanzaOf, type DebPart, type PlanOptions } from './packages-index.js';
import type { DebPath } from './package.js';
import { checkReleaseInfo, previousRelease } from './check.js';
import { planSources, sourceStanzaOf, sourcesByComponent } from './sources-index.js';
import { renderRelease, type IndexFileDigest, type ParsedRelease } from './release.js';
import { debSettings, type DistConfig } from './settings.js';

export interface DebBuildStats {
  indexes: number;
  packagesListed: number;
  sourcesListed: number;
  groupsCompressed: number;
  groupsReused: number;
  byHashCarried: number;
}

export let lastDebStats: DebBuildStats | undefined;

/** Where a distribution's Release lives, relative to the tree root. */
export function distDir(dist: DistConfig, flat: boolean): string {
  return flat ? '' : path.posix.join('dists', dist.codename);
}

/** The binary index folders of a distribution, relative to its Release folder. */
export function binaryDirs(dist: DistConfig, flat: boolean): { component: string; arch: string; rel: string }[] {
  if (flat) return [{ component: dist.components[0]!, arch: '', rel: '' }];
  return dist.components.flatMap((component) => dist.architectures.map((arch) => ({ component, arch, rel: path.posix.join(component, `binary-${arch}`) })));
}

/** The source index folders of a distribution (one per component), relative to its Release folder. */
export function sourceDirs(dist: DistConfig, flat: boolean): { component: string; rel: string }[] {
  if (flat) return [{ component: dist.components[0]!, rel: '' }];
  return dist.components.map((component) => ({ component, rel: path.posix.join(component, 'source') }));
}

type Plan = ReturnType<typeof planPackages>;

/** One index file set to write: Packages of a binary folder, or Sources of a source folder. */
interface IndexJob {
  rel: string;
  name: 'Packages' | 'Sources';
  /** The plan from every package of the index. */
  plan: () => Plan;
  /** Which parsed package paths the index lists (Packages: for an incremental plan). */
  belongs?: (p: DebPath) => boolean;
  planOptions?: PlanOptions;
  render: PartRenderer<DebPart>;
  cacheDir: string;
}

/**
 * Write one index: planned incrementally (planPackagesFrom) when its cache's last build is provably the
 * parent generation's index (same plan options, and the uncompressed index the parent's Release lists
 * is the one that build wrote) and the transaction said which paths changed; else from every package.
 */
async function writeIndex(ctx: IndexContext, job: IndexJob, idxDir: string, parent: ParsedRelease | undefined, preset: number): Promise<WrittenIndex> {
  const names = { xz: `${job.name}.xz`, gz: `${job.name}.gz` };
  const previous = await new BlockCache(job.cacheDir).lastBuild();
  const planId = job.planOptions ? planIdOf(job.planOptions) : undefined;
  const opts = { cacheDir: job.cacheDir, preset, md5: true, previous, planId };
  const basis = parent?.sha256.get(path.posix.join(job.rel, job.name))?.sha256;
  const carried =
    ctx.changed && job.belongs && job.planOptions && previous.lasts && previous.counts && planId === previous.planId && basis !== undefined && basis === previous.plainSha256
      ? planPackagesFrom({ keys: previous.keys, firsts: previous.firsts, lasts: previous.lasts, counts: previous.counts }, ctx.entries, ctx.changed, job.belongs, job.planOptions)
      : undefined;
  trace(`deb: ${job.rel || '.'} ${job.name} planned ${carried ? `from the previous build (${carried.chunks.filter((c) => c.kind === 'packages' && !c.known).length} groups cut again)` : 'from every package'}`);
  if (carried) {
    try {
      return await writeIndexStreaming(carried, job.render, idxDir, names, opts);
    } catch (e) {
      if (!(e instanceof StalePlanError)) throw e;
      trace(`deb: ${e.message}; planned again from every package`);
    }
  }
  return writeIndexStreaming(job.plan(), job.render, idxDir, names, opts);
}

export async function writeStaged(file: string, data: string | Buffer): Promise<void> {
  const tmp = tmpName(path.dirname(file), path.basename(file));
  try {
    await fsp.writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export async function writeDebIndexes(ctx: IndexContext): Promise<string[]> {
  const preset = Number.isInteger(Number(ctx.settings.indexXzPreset)) && Number(ctx.settings.indexXzPreset) >= 0 && Number(ctx.settings.indexXzPreset) <= 9 ? Number(ctx.settings.indexXzPreset) : DEFAULT_XZ_PRESET;
  // A publish of a few packages compresses one group: its xz starts now, beside the planning.
  if (ctx.changed && ctx.changed.length <= 4) warmXz(xzArgs(preset));
  try {
    return await writeAll(ctx, preset);
  } finally {
    coolXz();
  }
}

async function writeAll(ctx: IndexContext, preset: number): Promise<string[]> {
  const s = debSettings(ctx.settings);
  const grace = Number(ctx.settings.graceSeconds);
  const graceSeconds = Number.isFinite(grace) && grace >= 0 ? grace : 3600;
  const signing = signingSettingsOf(ctx.settings);
  const byComponent = () => packagesByComponent(ctx.entries);
  const recent = await recentSnapshots(ctx.repo, graceSeconds);
  const stats: DebBuildStats = { indexes: 0, packagesListed: 0, sourcesListed: 0, groupsCompressed: 0, groupsReused: 0, byHashCarried: 0 };
  const written: string[] = [];
  const render = async (p: DebPart) => ({ text: await stanzaOf(p.entry, ctx.loadMeta), loaded: 1 });
  const sourcesByComp = sourcesByComponent(ctx.entries);
  const renderSource = async (p: DebPart) => ({ text: await sourceStanzaOf(p.entry, ctx.loadMeta), loaded: 1 });
  for (const dist of s.dists) {
    const rel = distDir(dist, s.flat);
    const dir = path.join(ctx.stagingDir, rel);
    const parent = await previousRelease(ctx.repo.currentLink, rel);
    const previous = parent?.fields;
    if (previous) checkReleaseInfo(dist, previous);
    const digests: IndexFileDigest[] = [];
    const jobs: IndexJob[] = [
      ...binaryDirs(dist, s.flat).map((b): IndexJob => ({
        rel: b.rel,
        name: 'Packages',
        plan: () => planPackages(s.flat ? byComponent().get(b.component) ?? [] : selectArch(byComponent().get(b.component), b.arch), { preset, gz: true }),
        belongs: s.flat ? (p) => p.component === b.component : (p) => p.component === b.component && (p.architecture === b.arch || p.architecture === 'all'),
        planOptions: { preset, gz: true },
        render,
        cacheDir: path.join(ctx.cacheDir, 'blocks', s.flat ? `flat-${b.component}` : path.join(b.component, `binary-${b.arch}`)),
      })),
      ...sourceDirs(dist, s.flat).map((c): IndexJob => ({
        rel: c.rel,
        name: 'Sources',
        plan: () => planSources(sourcesByComp.get(c.component) ?? [], { preset }),
        render: renderSource,
        cacheDir: path.join(ctx.cacheDir, 'blocks', s.flat ? `flat-${c.component}-source` : path.join(c.component, 'source')),
      })),
    ];
    for (const job of jobs) {
      const idxDir = path.join(dir, job.rel);
      await mkdirp(idxDir);
      const xzName = `${job.name}.xz`;
      const gzName = `${job.name}.gz`;
      const w = await writeIndex(ctx, job, idxDir, parent, preset);
      await linkByHash(idxDir, xzName, w.xz.sha256);
      await linkByHash(idxDir, gzName, w.gz!.sha256);
      const at = (name: string) => path.posix.join(job.rel, name);
      digests.push({ path: at(job.name), ...w.plain, md5: w.plain.md5! }, { path: at(gzName), ...w.gz!, md5: w.gz!.md5! }, { path: at(xzName), ...w.xz, md5: w.xz.md5! });
      written.push(path.posix.join(rel, job.rel, xzName), path.posix.join(rel, job.rel, gzName));
      stats.indexes++;
      if (job.name === 'Packages') stats.packagesListed += w.stats.packages;
      else stats.sourcesListed += w.stats.packages;
      stats.groupsCompressed += w.stats.compressed;
      stats.groupsReused += w.stats.reused;
    }
    trace(`deb:${dist.codename} packages`);
    // Date never goes back: a client keeps a cached Release newer than the one it fetches.
    let date = new Date(Math.floor(Date.now() / 1000) * 1000);
    const prevDate = previous?.get('Date') ? Date.parse(previous.get('Date')!) : NaN;
    if (Number.isFinite(prevDate) && prevDate > date.getTime()) date = new Date(prevDate);
    await writeStaged(path.join(dir, 'Release'), renderRelease(dist, date, digests, { flat: s.flat }));
    written.push(path.posix.join(rel, 'Release'));
    // InRelease and Release.gpg from the very bytes just written, inside staging: the three always agree.
    // gpg works in processes of its own while this one carries the by-hash files forward.
    const signed = signing ? signFiles(signing, releaseSignJobs(dir)) : undefined;
    signed?.catch(() => undefined); // awaited below; a rejection meanwhile is not "unhandled"
    try {
      stats.byHashCarried += await carryForward(recent, rel, ctx.stagingDir);
    } finally {
      await signed;
    }
    if (signing) written.push(path.posix.join(rel, 'InRelease'), path.posix.join(rel, 'Release.gpg'));
    if (!s.flat && dist.suite !== dist.codename) await mirrorTree(dir, path.join(ctx.stagingDir, 'dists', dist.suite));
  }
  lastDebStats = stats;
  trace(`deb:indexes (${stats.indexes} indexes, ${stats.groupsCompressed} groups compressed, ${stats.groupsReused} reused, ${stats.byHashCarried} by-hash carried)`);
  return written;
}

/** The signatures of a Release folder: InRelease (clearsigned) and Release.gpg (armored, detached). */
export function releaseSignJobs(dir: string): SignJob[] {
  const source = path.join(dir, 'Release');
  return [
    { source, target: path.join(dir, 'InRelease'), kind: 'clearsigned' },
    { source, target: path.join(dir, 'Release.gpg'), kind: 'detached-armored' },
  ];
}

/** Hard-link every file of `src` under `dst` (a suite's name for its codename's folder). */
async function mirrorTree(src: string, dst: string): Promise<void> {
  await mkdirp(dst);
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const a = path.join(src, e.name);
    const b = path.join(dst, e.name);
    if (e.isDirectory()) await mirrorTree(a, b);
    else await fsp.link(a, b);
  }
}
