/**
 * Checks of a deb snapshot's indexes. Always: each distribution's Release exists, every shipped index it
 * lists has the stated size and hashes, its by-hash link exists, each .xz is one well-formed stream.
 * Without `quick` (`rcurepo verify`): both compressed variants decompress to bytes matching the listed
 * uncompressed Packages (Sources), which must equal a from-scratch rendering from the entries' metadata;
 * every file a .dsc lists is in the tree beside it with the stated bytes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { VerifyContext } from '../format.js';
import { checkXzStructure, runXz } from '../shared/xz-blocks.js';
import { errnoCode } from '../../util/errors.js';
import { missingSignatures, signingSettingsOf, verifySignatures } from '../../signing/index.js';
import { BY_HASH } from './by-hash.js';
import { releaseSignJobs } from './indexes.js';
import { packagesByComponent, renderPackages, selectArch } from './packages-index.js';
import { parseRelease } from './release.js';
import { isDscMeta } from './dsc.js';
import { renderSources, sourcesByComponent } from './sources-index.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function read(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The distributions are found in the tree (each Release, and the indexes it lists), not in the
 * repository's settings: an older generation may predate an added distribution.
 */
export async function verifyDebIndexes(ctx: VerifyContext): Promise<string[]> {
  const faults: string[] = [];
  // Grouped only when an index is rendered from scratch (full verification), not by the staging check.
  const byComponent = () => packagesByComponent(ctx.entries);
  const sourcesByComp = () => sourcesByComponent(ctx.entries);
  const rels: string[] = [];
  if (await read(path.join(ctx.snapshotDir, 'Release'))) rels.push('');
  try {
    for (const d of (await fsp.readdir(path.join(ctx.snapshotDir, 'dists'))).sort()) rels.push(path.posix.join('dists', d));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  if (rels.length === 0) faults.push('no Release file (neither dists/<codename>/Release nor a flat Release)');
  for (const rel of rels) {
    const text = await read(path.join(ctx.snapshotDir, rel, 'Release'));
    if (!text) {
      faults.push(`${path.posix.join(rel, 'Release')}: missing`);
      continue;
    }
    const release = parseRelease(text.toString('utf8'));
    const signing = signingSettingsOf(ctx.settings);
    if (signing) {
      const jobs = releaseSignJobs(path.join(ctx.snapshotDir, rel));
      // The staging check requires them; `verify` checks those present (generations published before
      // signing was configured have none, like the other formats' older generations).
      const present = jobs.filter((j) => fs.existsSync(j.target));
      const problems = ctx.quick ? missingSignatures(signing, jobs) : present.length ? await verifySignatures(signing, present) : [];
      faults.push(...problems.map((p) => `${path.posix.join(rel, 'Release')}: ${p}`));
    }
    for (const kind of ['Packages', 'Sources'] as const) {
      const dirs = [...new Set([...release.sha256.keys()].filter((p) => p === kind || p.endsWith(`/${kind}`)).map((p) => path.posix.dirname(p)))].sort();
      for (const d of dirs) {
        const idxRel = d === '.' ? '' : d;
        await checkIndexDir(ctx, rel, idxRel, kind, release, faults, expectedIndex(ctx, kind, rel, idxRel, byComponent, sourcesByComp));
      }
    }
  }
  if (!ctx.quick) faults.push(...(await missingSourceFiles(ctx)));
  return faults;
}

/** How to render an index folder's content from scratch, or undefined when the folder is not one this format writes. */
function expectedIndex(ctx: VerifyContext, kind: 'Packages' | 'Sources', rel: string, idxRel: string, byComponent: () => ReturnType<typeof packagesByComponent>, sourcesByComp: () => ReturnType<typeof sourcesByComponent>): (() => Promise<Buffer>) | undefined {
  if (kind === 'Sources') {
    const m = /^([^/]+)\/source$/.exec(idxRel);
    if (rel !== '' && !m) return undefined;
    return async () => renderSources(rel === '' ? [...sourcesByComp().values()].flat() : sourcesByComp().get(m![1]!) ?? [], ctx.loadMeta);
  }
  const m = /^([^/]+)\/binary-([^/]+)$/.exec(idxRel);
  if (rel !== '' && !m) return undefined;
  return async () => renderPackages(rel === '' ? [...byComponent().values()].flat() : selectArch(byComponent().get(m![1]!), m![2]!), ctx.loadMeta);
}

/** Every file a published .dsc lists must be in the tree beside it, with the bytes the .dsc states. */
async function missingSourceFiles(ctx: VerifyContext): Promise<string[]> {
  const byPath = new Map(ctx.entries.map((e) => [e.path, e]));
  const faults: string[] = [];
  for (const refs of sourcesByComponent(ctx.entries).values()) {
    for (const r of refs) {
      const meta = await ctx.loadMeta(r.entry);
      if (!isDscMeta(meta)) {
        faults.push(`${r.entry.path}: cached source metadata is missing or from another version`);
        continue;
      }
      for (const f of meta.files) {
        const p = path.posix.join(path.posix.dirname(r.entry.path), f.name);
        const e = byPath.get(p);
        if (!e) faults.push(`${r.entry.path}: lists ${f.name}, which is not in the tree`);
        else if (e.sha256 !== f.sha256 || e.size !== f.size) faults.push(`${r.entry.path}: lists ${f.name} with sha256 ${f.sha256} (${f.size} bytes), the tree has sha256 ${e.sha256} (${e.size} bytes)`);
      }
    }
  }
  return faults;
}

async function checkIndexDir(ctx: VerifyContext, rel: string, idxRel: string, kind: 'Packages' | 'Sources', release: ReturnType<typeof parseRelease>, faults: string[], expected: (() => Promise<Buffer>) | undefined): Promise<void> {
  const dir = path.join(ctx.snapshotDir, rel, idxRel);
  const name = (f: string) => path.posix.join(rel, idxRel, f);
  const listed = (f: string) => release.sha256.get(path.posix.join(idxRel, f));
  const plain = listed(kind);
  if (!plain) faults.push(`${name(kind)}: not listed in ${path.posix.join(rel, 'Release')}`);
  const contents: Buffer[] = [];
  for (const f of [`${kind}.xz`, `${kind}.gz`]) {
    const want = listed(f);
    const bytes = await read(path.join(dir, f));
    if (!want) {
      faults.push(`${name(f)}: not listed in Release`);
      continue;
    }
    if (!bytes) {
      faults.push(`${name(f)}: missing`);
      continue;
    }
    const h = sha256(bytes);
    if (bytes.length !== want.size || h !== want.sha256) faults.push(`${name(f)}: Release says ${want.size} bytes sha256 ${want.sha256}, the file has ${bytes.length} bytes sha256 ${h}`);
    const byHash = await read(path.join(dir, BY_HASH, want.sha256));
    if (!byHash) faults.push(`${name(f)}: by-hash/SHA256/${want.sha256} missing`);
    if (f.endsWith('.xz')) {
      try {
        checkXzStructure(bytes);
      } catch (e) {
        faults.push(`${name(f)}: not one well-formed xz stream (${(e as Error).message})`);
        continue;
      }
    }
    if (ctx.quick) continue;
    try {
      contents.push(f.endsWith('.xz') ? await runXz(['-d', '-c', '--format=xz', '--single-stream'], bytes) : zlib.gunzipSync(bytes));
    } catch (e) {
      faults.push(`${name(f)}: does not decompress (${(e as Error).message})`);
    }
  }
  if (ctx.quick || !plain) return;
  for (const c of contents) if (c.length !== plain.size || sha256(c) !== plain.sha256) faults.push(`${name(kind)}: a compressed variant decompresses to bytes that differ from the Release listing`);
  if (expected) {
    let want: Buffer | undefined;
    try {
      want = await expected();
    } catch (e) {
      faults.push(`${name(kind)}: cannot regenerate for comparison (${(e as Error).message})`);
    }
    if (want && (want.length !== plain.size || sha256(want) !== plain.sha256)) faults.push(`${name(kind)}: differs from the index the snapshot's ${kind === 'Packages' ? 'packages' : 'source packages'} produce`);
  }
}
