/**
 * Upload manifests (.tram, docs eopkg-format.md "Upload manifests"): TOML naming the target repository
 * and each uploaded file with its sha256. Every file is checked, copied and hashed before anything is
 * linked into the pool; one bad file refuses the whole manifest. A manifest delivered again after it was
 * published is answered from its delivery record ("already published in generation N").
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import type { Layout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { readCurrent } from '../engine/generations.js';
import { prepareFiles } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import type { ImportResult } from '../commands/import.js';
import { checkUpload, refuseReason } from './uploads.js';
import { findDelivered } from './delivered.js';
import { submitImport } from './group-commit.js';
import { errnoCode, RcuError } from '../util/errors.js';

export const MANIFEST_SUFFIX = '.tram';

export interface UploadManifest {
  file: string;
  dir: string;
  version: string;
  target: string;
  files: Array<{ path: string; sha256: string }>;
  /** Identity of the delivery: target plus every (path, sha256), independent of formatting. */
  key: string;
}

export function isManifestName(p: string): boolean {
  return p.endsWith(MANIFEST_SUFFIX);
}

export async function readUploadManifest(file: string): Promise<UploadManifest> {
  let st;
  try {
    st = await fsp.lstat(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new RcuError('BAD_INPUT', `${file}: no such manifest`);
    throw e;
  }
  const why = refuseReason(st);
  if (why) throw new RcuError('BAD_INPUT', `${file}: manifest ${why}`);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof Error && e.name === 'TomlError') throw new RcuError('BAD_INPUT', `${file}: not a valid TOML manifest: ${e.message.split('\n')[0]}`);
    throw e;
  }
  const bad = (msg: string) => new RcuError('BAD_INPUT', `${file}: ${msg}`);
  const m = doc.manifest as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object') throw bad('missing [manifest] table');
  if (typeof m.version !== 'string' || !/^1(\.\d+)?$/.test(m.version)) throw bad(`unsupported manifest version ${JSON.stringify(m.version)} (expected "1.0")`);
  if (typeof m.target !== 'string' || !m.target) throw bad('[manifest] target is missing');
  const list = doc.file;
  if (!Array.isArray(list) || list.length === 0) throw bad('no [[file]] entries');
  const files: UploadManifest['files'] = [];
  const seen = new Set<string>();
  for (const [i, f] of (list as Array<Record<string, unknown>>).entries()) {
    if (typeof f?.path !== 'string' || !f.path) throw bad(`[[file]] #${i + 1} has no path`);
    const sha = typeof f.sha256 === 'string' ? f.sha256.toLowerCase() : '';
    if (!/^[0-9a-f]{64}$/.test(sha)) throw bad(`[[file]] '${f.path}' has no valid sha256`);
    if (seen.has(f.path)) throw bad(`'${f.path}' is listed twice`);
    seen.add(f.path);
    files.push({ path: f.path, sha256: sha });
  }
  const canon = JSON.stringify([m.target, [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => [f.path, f.sha256])]);
  const key = createHash('sha256').update(canon).digest('hex');
  return { file, dir: path.dirname(file), version: m.version, target: m.target, files, key };
}

export interface ManifestImportOptions {
  base: Layout;
  manifestPath: string;
  /** The repository named on the command line; must equal the manifest's target. */
  repo?: string;
  prefix?: string;
  replace?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
}

export interface ManifestImportResult extends ImportResult {
  manifest: string;
  /** Set when this manifest had been published before: the generation that published it. */
  alreadyPublished?: number;
}

export async function importManifest(o: ManifestImportOptions): Promise<ManifestImportResult> {
  const layout = o.base;
  const man = await readUploadManifest(o.manifestPath);
  const name = path.basename(man.file);
  if (o.repo !== undefined && o.repo !== man.target) {
    throw new RcuError('USAGE', `${man.file}: the manifest targets repository '${man.target}', not '${o.repo}'`);
  }
  let repo;
  try {
    repo = layout.repo(man.target);
  } catch (e) {
    throw new RcuError('NOT_FOUND', `${man.file}: target '${man.target}' is not a valid repository name`, { cause: e });
  }
  const cfg = await readRepoConfig(repo).catch((e) => {
    if (e instanceof RcuError && e.code === 'NOT_FOUND') throw new RcuError('NOT_FOUND', `${man.file}: no repository named '${man.target}' (the manifest's target)`);
    throw e;
  });
  const done = await findDelivered(layout, repo, man.key);
  if (done) {
    const cur = (await readCurrent(repo)) ?? done.generation;
    return { repo: man.target, published: false, dryRun: false, parent: cur, generation: done.generation, added: [], removed: [], replaced: [], warnings: [], inputs: man.files.length, unchanged: done.files.map((f) => f.path), manifest: name, alreadyPublished: done.generation };
  }
  const format = await getFormat(cfg.format);
  // Check every named file before copying any: missing files and unsafe entries are all reported at once.
  const refused: string[] = [];
  const sources: Array<{ abs: string; rel: string }> = [];
  for (const f of man.files) {
    try {
      sources.push(await checkUpload(man.dir, f.path, name));
    } catch (e) {
      if (!(e instanceof RcuError)) throw e;
      refused.push(e.message);
    }
  }
  if (refused.length) throw refusal(name, refused);
  const { prepared, refused: placeRefused } = await prepareFiles(layout, format, sources.map((s) => ({ abs: s.abs, rel: s.rel })), { prefix: o.prefix, settings: cfg.settings });
  const pool = new Pool(layout);
  const byAbs = new Map(man.files.map((f, i) => [sources[i]!.abs, f]));
  for (const p of prepared) {
    const want = byAbs.get(p.source.abs)!;
    if (p.staged.sha256 !== want.sha256) refused.push(`${name}: '${want.path}' has sha256 ${p.staged.sha256}, the manifest says ${want.sha256}`);
  }
  refused.push(...placeRefused);
  if (refused.length) {
    await pool.discard(prepared.map((p) => p.staged));
    throw refusal(name, refused);
  }
  const res = await submitImport({
    layout,
    repoName: man.target,
    format,
    prepared,
    inputs: man.files.length,
    args: [name, ...man.files.map((f) => f.path)],
    replace: o.replace,
    actor: o.actor,
    waitSeconds: o.waitSeconds,
    onWait: o.onWait,
    manifest: { key: man.key, name },
  });
  return { ...res, manifest: name };
}

function refusal(name: string, reasons: string[]): RcuError {
  if (reasons.length === 1) return new RcuError('BAD_INPUT', `${reasons[0]}; nothing was imported`);
  return new RcuError('BAD_INPUT', `${name}: ${reasons.length} problems; nothing was imported`, { details: reasons });
}
