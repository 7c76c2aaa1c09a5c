/**
 * `create-repo NAME --format deb --adopt PATH [--dist D ...]`: an existing published apt tree (aptly,
 * reprepro, a flat repository) becomes an ordinary rcurepo deb repository, once. Everything is checked
 * before anything is created: each Release against the indexes it lists, each listed .deb against its
 * stanza's Size and SHA256 (as it is read into the pool, so the bytes are read once). A fault refuses
 * the whole tree with nothing created; otherwise the repository is created with the tree's
 * distributions, the packages are published in one transaction, and rcurepo's Packages are compared
 * with the originals package by package.
 */
import type { AdoptOptions, AdoptResult } from './adopt.js';
import { openBase } from '../engine/repo.js';
import { planImport, prepareFiles, type PreparedFile } from '../engine/importer.js';
import { Pool, type StagedBlob } from '../engine/pool.js';
import { hashFile } from '../engine/snapshot-state.js';
import { debSettings, type DebSettings } from '../formats/deb/index.js';
import type { Format } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import { surveyDebTree, type DebAdoptSurvey, type ListedDeb } from '../distribution/adopt-deb-survey.js';
import { compareDebIndexes } from '../distribution/adopt-deb-compare.js';
import { publishingTransaction } from '../publish/after-publish.js';
import { isRcuError, RcuError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';
import { progress } from '../util/progress.js';
import { createRepo, deleteRepo } from './repos.js';

/** Faults listed in full up to this many; a tree that is wholly wrong needs no 50,000-line answer. */
const MAX_LISTED_FAULTS = 200;

function refuse(source: string, faults: string[]): RcuError {
  const details = faults.length > MAX_LISTED_FAULTS ? [...faults.slice(0, MAX_LISTED_FAULTS), `... and ${faults.length - MAX_LISTED_FAULTS} more`] : faults;
  return new RcuError('BAD_INPUT', `${source}: ${faults.length} fault(s) against the tree's own Release and Packages files; nothing was adopted`, { details });
}

/** A listed file's bytes against its stanza (Size was checked by the survey; SHA256, else SHA1). */
function hashFault(l: ListedDeb, h: { sha256: string; sha1: string; size: number }): string | undefined {
  if (h.size !== l.size) return `${l.rel}: ${h.size} bytes, ${l.listedBy} says ${l.size}`;
  if (l.sha256 !== undefined ? h.sha256 !== l.sha256 : h.sha1 !== l.sha1) {
    return `${l.rel}: ${l.sha256 !== undefined ? `SHA256 ${h.sha256}` : `SHA1 ${h.sha1}`}, ${l.listedBy} says ${l.sha256 ?? l.sha1} (${l.id})`;
  }
  return undefined;
}

/** Listed files grouped by where they are placed (place() takes one distribution and component a call). */
function groups(listed: readonly ListedDeb[]): Map<string, ListedDeb[]> {
  const out = new Map<string, ListedDeb[]>();
  for (const l of listed) {
    const k = `${l.dist}\0${l.component}`;
    const g = out.get(k);
    if (g) g.push(l);
    else out.set(k, [l]);
  }
  return out;
}

/** --dry-run: every file hashed and placed from where it is; nothing touches the pool. */
async function dryCheck(format: Format, settings: Record<string, unknown>, survey: DebAdoptSurvey, result: AdoptResult): Promise<string[]> {
  const faults: string[] = [];
  const bar = progress('checking', survey.listed.length);
  for (const l of survey.listed) {
    const h = await hashFile(l.abs);
    const bad = hashFault(l, h);
    bar.tick();
    if (bad) {
      faults.push(bad);
      continue;
    }
    try {
      const p = await format.place({ source: l.abs, relPath: l.rel, copyPath: l.abs, ...h }, { settings, dist: l.dist, component: l.component });
      if (p.treePath !== l.rel) result.moved.push(`${l.rel} -> ${p.treePath}`);
    } catch (e) {
      if (isRcuError(e, 'BAD_INPUT') || isRcuError(e, 'USAGE')) faults.push(e.message);
      else throw e;
    }
  }
  bar.done();
  return faults;
}

/** Read every listed file into the pool, placed and checked against its stanza. */
async function stageAll(layout: Awaited<ReturnType<typeof openBase>>, format: Format, settings: Record<string, unknown>, survey: DebAdoptSurvey, staged: StagedBlob[]): Promise<{ prepared: PreparedFile[]; faults: string[] }> {
  const prepared: PreparedFile[] = [];
  const faults: string[] = [];
  const byAbs = new Map(survey.listed.map((l) => [l.abs, l] as const));
  const bar = progress('reading', survey.listed.length);
  for (const g of groups(survey.listed).values()) {
    const files = g.map((l) => ({ abs: l.abs, rel: l.rel }));
    const r = await prepareFiles(layout, format, files, { settings, dist: g[0]!.dist, component: g[0]!.component, progress: bar });
    staged.push(...r.prepared.map((p) => p.staged));
    faults.push(...r.refused);
    for (const p of r.prepared) {
      const bad = hashFault(byAbs.get(p.source.abs)!, p.staged);
      if (bad) faults.push(bad);
      else prepared.push(p);
    }
  }
  bar.done();
  return { prepared, faults };
}

export async function adoptDeb(opts: AdoptOptions, source: string): Promise<AdoptResult> {
  const layout = await openBase(opts.base);
  const survey = await surveyDebTree(source, { dists: opts.dists });
  if (survey.faults.length) throw refuse(source, survey.faults);
  if (survey.listed.length === 0) throw new RcuError('BAD_INPUT', `${source}: its Packages indexes list no package: nothing to adopt`);
  const settings: Record<string, unknown> = { deb: { flat: survey.flat, dists: survey.dists } };
  let deb: DebSettings;
  try {
    deb = debSettings(settings);
  } catch (e) {
    throw new RcuError('BAD_INPUT', `${source}: its distributions cannot be one rcurepo repository: ${(e as Error).message}`);
  }
  const format = await getFormat('deb');
  const result: AdoptResult = {
    repo: opts.name, format: 'deb', source, dryRun: !!opts.dryRun, generation: 0, imported: survey.listed.length, assets: [],
    differences: [], notImported: survey.notImported, moved: [], notes: survey.notes,
    distributions: deb.dists.map((d) => ({ codename: d.codename, suite: d.suite, components: d.components, architectures: d.architectures, origin: d.origin, label: d.label })),
  };
  // Fail fast, before reading every package: create-repo checks again when it creates the repository.
  if (await pathExists(layout.repo(opts.name).dir)) throw new RcuError('EXISTS', `repository '${opts.name}' already exists`);
  if (opts.dryRun) {
    result.wouldImport = survey.listed.map((l) => `${l.rel} (${l.id})`);
    const faults = await dryCheck(format, settings, survey, result);
    if (faults.length) throw refuse(source, faults);
    return result;
  }
  const pool = new Pool(layout);
  const staged: StagedBlob[] = [];
  let created = false;
  try {
    const { prepared, faults } = await stageAll(layout, format, settings, survey, staged);
    if (faults.length) throw refuse(source, faults);
    for (const p of prepared) if (p.placement.treePath !== p.source.rel) result.moved.push(`${p.source.rel} -> ${p.placement.treePath}`);
    await createRepo({ base: opts.base, name: opts.name, format: 'deb', settings });
    created = true;
    const tx = await publishingTransaction(
      { layout, repoName: opts.name, format, operation: 'adopt', args: [source], waitSeconds: opts.waitSeconds, onWait: opts.onWait },
      async (state) => (await planImport(state, prepared, {})).change,
    );
    result.generation = tx.generation;
  } catch (e) {
    await pool.discard(staged).catch(() => undefined);
    if (created) await deleteRepo({ base: opts.base, name: opts.name, force: true, waitSeconds: opts.waitSeconds }).catch(() => undefined);
    throw e;
  }
  await pool.discard(staged).catch(() => undefined);
  const cmp = await compareDebIndexes(survey.originals, layout.repo(opts.name).snapshotDir(result.generation), deb);
  result.differences = cmp.differences;
  result.notes = [...result.notes, ...cmp.notes];
  return result;
}
