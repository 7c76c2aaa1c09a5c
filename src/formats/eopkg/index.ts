/**
 * The eopkg format (Solus): placement `<prefix>/<source>/<file>`, metadata from metadata.xml, and
 * eopkg-index.xml (+ .xz, sha1/sha256 companions) built incrementally from cached xz blocks.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobHashes, Format, IncomingFile, IndexContext, PackageRow, Placement, PlaceOptions, TreeEntry, VerifyContext } from '../format.js';
import { RcuError, errnoCode } from '../../util/errors.js';
import { tmpName } from '../../util/fsx.js';
import { trace } from '../../util/trace.js';
import { ASSET_FILE, assetKindOfPath, isAssetName, loadAssets, type ParsedAssets } from './assets.js';
import { sourceFolder } from './placement.js';
import { planChunks, renderIndex, renderPart, type BuildStats, type MetaLoader } from './index-builder.js';
import { describePackage, labelFor, safeBasename, type EopkgMeta } from './package.js';
import { writeIndexStreaming } from '../shared/chunk-writer.js';
import { DEFAULT_XZ_PRESET, checkXzStructure, runXz } from '../shared/xz-blocks.js';
import { buildIdentity } from './tips.js';
import { INDEX_XZ_ASC, checkIndexSignature, signIndex } from './signature.js';
import { parseFileName } from './filename.js';

export { ASSET_FILE, ASSET_KINDS, assetEntries, assetKindOfPath, loadAssets, parseAssetTexts, validateAsset } from './assets.js';
export type { AssetKind, AssetTexts, ParsedAssets } from './assets.js';
export type { EopkgMeta } from './package.js';
export type { BuildStats } from './index-builder.js';
export { parseFileName } from './filename.js';
export { buildIdentity, newerBuild } from './tips.js';
export { sourceFolder, treePathFor } from './placement.js';

export const INDEX_XML = 'eopkg-index.xml';
export const INDEX_FILES = [
  INDEX_XML,
  `${INDEX_XML}.sha1sum`,
  `${INDEX_XML}.sha256sum`,
  `${INDEX_XML}.xz`,
  `${INDEX_XML}.xz.sha1sum`,
  `${INDEX_XML}.xz.sha256sum`,
] as const;

/** Statistics of the last writeIndexes() in this process (tests, benchmarks, --verbose output). */
export let lastIndexStats: BuildStats | undefined;

/** Write `data` into `dir/name` by temporary name + rename (durability: the engine syncs the staging tree). */
async function writeStaged(dir: string, name: string, data: string): Promise<void> {
  const tmp = tmpName(dir, name);
  try {
    await fsp.writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await fsp.rename(tmp, path.join(dir, name));
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export interface EopkgIndexOptions {
  groupMask?: number;
  /** Use these parsed assets instead of reading the snapshot's asset entries (benchmarks). */
  assets?: ParsedAssets;
}

/** Repository setting `indexXzPreset`: an integer 0-9; anything else means the default. */
export function xzPresetOf(settings: Record<string, unknown>): number {
  const v = Number(settings.indexXzPreset);
  return Number.isInteger(v) && v >= 0 && v <= 9 ? v : DEFAULT_XZ_PRESET;
}

/** Repository setting `plainIndex` (default on, as ferryd publishes): ship eopkg-index.xml and its sums. */
export function plainIndexOf(settings: Record<string, unknown>): boolean {
  return settings.plainIndex !== false && settings.plainIndex !== 'false';
}

export async function writeEopkgIndexes(ctx: IndexContext, opts: EopkgIndexOptions = {}): Promise<{ files: string[]; stats: BuildStats }> {
  const assets = opts.assets ?? (await loadAssets(ctx.entries, (sha) => ctx.layout.blobPath(sha)));
  trace('eopkg:assets');
  // The xz level is the operator's trade (repo setting indexXzPreset, 0-9): see DEFAULT_XZ_PRESET. It is
  // part of every block's cache key, so changing it recompresses each group once.
  const preset = xzPresetOf(ctx.settings);
  const plan = planChunks(ctx.entries, assets, { groupMask: opts.groupMask, preset });
  trace('eopkg:plan');
  // eopkg clients fetch only the .xz and its .sha1sum; with plainIndex off the XML is hashed, not written.
  const plain = plainIndexOf(ctx.settings);
  const render = async (p: Parameters<typeof renderPart>[0]) => ({ text: await renderPart(p, ctx.loadMeta), loaded: 1 + p.ds.length });
  const w = await writeIndexStreaming(plan, render, ctx.stagingDir, { xml: plain ? INDEX_XML : undefined, xz: `${INDEX_XML}.xz` }, { cacheDir: path.join(ctx.cacheDir, 'xz-blocks'), preset });
  const sums: [string, string][] = [
    ...(plain ? ([[`${INDEX_XML}.sha1sum`, w.sha1 + '\n'], [`${INDEX_XML}.sha256sum`, w.sha256 + '\n']] as [string, string][]) : []),
    [`${INDEX_XML}.xz.sha1sum`, w.xzSha1 + '\n'],
    [`${INDEX_XML}.xz.sha256sum`, w.xzSha256 + '\n'],
  ];
  await Promise.all(sums.map(([n, d]) => writeStaged(ctx.stagingDir, n, d)));
  lastIndexStats = w.stats;
  trace(`eopkg:sums (${w.stats.compressed}/${w.stats.chunks} xz, ${w.stats.metaLoaded} rendered, ${w.stats.fragmentsReused} reused)`);
  const signatures = await signIndex(ctx.settings, ctx.stagingDir);
  return { files: [...(plain ? [INDEX_XML] : []), `${INDEX_XML}.xz`, ...sums.map(([n]) => n), ...signatures], stats: w.stats };
}

/** The index XML writeIndexes would produce for these entries (no cache, no compression). */
export async function renderIndexXml(entries: readonly TreeEntry[], blobPath: (sha256: string) => string, loadMeta: MetaLoader, groupMask?: number): Promise<Buffer> {
  return renderIndex(entries, await loadAssets(entries, blobPath), loadMeta, groupMask);
}

async function readOrFault(file: string, faults: string[]): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      faults.push(`${path.basename(file)}: missing`);
      return undefined;
    }
    throw e;
  }
}

/**
 * Check a snapshot's index files. Always: the six files exist, the four companions are well-formed, the
 * .xz's companions match its bytes, the .xz is structurally a single stream whose blocks hold as many
 * bytes as the XML. Without ctx.quick (`rcurepo verify`): also hash the XML against its companions,
 * decompress the .xz and compare with the XML, and regenerate the XML from the entries and assets without
 * any cache and compare. (The deltas it lists are hashed by `rcurepo verify`: see verify-deltas.ts.)
 */
export async function verifyEopkgIndexes(ctx: VerifyContext): Promise<string[]> {
  const faults: string[] = [];
  const dir = ctx.snapshotDir;
  const xmlFile = path.join(dir, INDEX_XML);
  // Right after writing, the setting says what was written; an older snapshot may predate a change of
  // the setting, so `verify` goes by what is there (the XML or either of its sums).
  const plain = ctx.quick
    ? plainIndexOf(ctx.settings)
    : [INDEX_XML, `${INDEX_XML}.sha1sum`, `${INDEX_XML}.sha256sum`].some((n) => fs.existsSync(path.join(dir, n)));
  let xml: Buffer | undefined;
  let xmlHashes: { sha1: string; sha256: string; size: number } | undefined;
  let xmlSize: number | undefined;
  if (!plain) {
    // plainIndex off: the XML and its sums must not linger (a stale plain index would contradict the .xz).
    for (const n of [INDEX_XML, `${INDEX_XML}.sha1sum`, `${INDEX_XML}.sha256sum`]) {
      if (await fsp.lstat(path.join(dir, n)).then(() => true, () => false)) faults.push(`${n}: present although plainIndex is off`);
    }
  } else if (ctx.quick) {
    // The staging check right after writeIndexes: the writer hashed these bytes as it wrote them, so
    // re-reading the (large) XML only repeats that; its size still has to agree with the .xz's blocks.
    try {
      xmlSize = (await fsp.stat(xmlFile)).size;
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      faults.push(`${INDEX_XML}: missing`);
    }
  } else {
    xml = await readOrFault(xmlFile, faults);
    if (xml) xmlHashes = { sha1: hex('sha1', xml), sha256: hex('sha256', xml), size: xml.length };
    xmlSize = xml?.length;
  }
  const xz = await readOrFault(path.join(dir, `${INDEX_XML}.xz`), faults);
  const xzHashes = xz && { sha1: hex('sha1', xz), sha256: hex('sha256', xz) };
  type Sum = [string, { sha1: string; sha256: string } | undefined, 'sha1' | 'sha256'];
  const plainSums: Sum[] = [[`${INDEX_XML}.sha1sum`, xmlHashes, 'sha1'], [`${INDEX_XML}.sha256sum`, xmlHashes, 'sha256']];
  const sums: Sum[] = [
    ...(plain ? plainSums : []),
    [`${INDEX_XML}.xz.sha1sum`, xzHashes, 'sha1'],
    [`${INDEX_XML}.xz.sha256sum`, xzHashes, 'sha256'],
  ];
  for (const [name, hashes, algo] of sums) {
    const s = await readOrFault(path.join(dir, name), faults);
    if (s === undefined) continue;
    const len = algo === 'sha1' ? 40 : 64;
    const text = s.toString('latin1');
    if (!new RegExp(`^[0-9a-f]{${len}}\\n?$`).test(text)) faults.push(`${name}: not ${len} hex characters (and an optional newline)`);
    else if (hashes !== undefined && text.trim() !== hashes[algo]) faults.push(`${name}: says ${text.trim()}, the file hashes to ${hashes[algo]}`);
  }
  let structureOk = false;
  if (xz !== undefined) {
    try {
      const st = checkXzStructure(xz);
      structureOk = true;
      if (xmlSize !== undefined && st.uncompressedSize !== xmlSize) faults.push(`${INDEX_XML}.xz: its blocks hold ${st.uncompressedSize} bytes, ${INDEX_XML} has ${xmlSize}`);
    } catch (e) {
      faults.push(`${INDEX_XML}.xz: not a well-formed single xz stream (${(e as Error).message}); does not decompress`);
    }
  }
  faults.push(...(await checkIndexSignature(ctx.settings, dir, ctx.quick)));
  if (ctx.quick) return faults;
  if (xz !== undefined && structureOk && (xml !== undefined || !plain)) {
    try {
      const out = await runXz(['-d', '-c', '--format=xz', '--single-stream'], xz);
      if (!plain) xml = out; // the only plain form there is: compared with a fresh rendering below
      else if (!out.equals(xml!)) faults.push(`${INDEX_XML}.xz: does not decompress to ${INDEX_XML}`);
    } catch (e) {
      faults.push(`${INDEX_XML}.xz: does not decompress (${(e as Error).message})`);
    }
  }
  if (xml !== undefined) {
    let want: Buffer | undefined;
    try {
      want = await renderIndexXml(ctx.entries, (sha) => ctx.layout.blobPath(sha), ctx.loadMeta);
    } catch (e) {
      faults.push(`${INDEX_XML}: cannot regenerate for comparison (${(e as Error).message})`);
    }
    if (want && !want.equals(xml)) faults.push(`${plain ? INDEX_XML : `${INDEX_XML}.xz`}: differs from the index the snapshot's packages and assets produce`);
  }
  return faults;
}

const hex = (algo: 'sha1' | 'sha256', b: Uint8Array): string => createHash(algo).update(b).digest('hex');

export const eopkgFormat: Format = {
  name: 'eopkg',
  // The signature is generated too (when the repository signs), so it is never taken for a package.
  indexFiles: [...INDEX_FILES, INDEX_XZ_ASC],
  buildIdentity,

  packageOf(entry: TreeEntry): PackageRow | undefined {
    const fn = parseFileName(entry.path.slice(entry.path.lastIndexOf('/') + 1));
    if (!fn) return undefined;
    if (fn.kind === 'delta') return { name: fn.name, version: `${fn.fromRelease} -> ${fn.toRelease}`, release: fn.toRelease, arch: fn.arch, kind: 'delta' };
    return { name: fn.name, version: fn.version, release: fn.release, arch: fn.arch };
  },

  async place(file: IncomingFile, opts: PlaceOptions): Promise<Placement> {
    const label = labelFor(file.source, file.relPath);
    const base = safeBasename(file.relPath, label);
    if (isAssetName(base)) {
      throw new RcuError('BAD_INPUT', `${label}: '${base}' is a repository asset, not a package; publish it with set-assets`, { data: { file: label, reason: 'asset name' } });
    }
    const meta = await describePackage(file.bytes ? Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength) : file.copyPath, base, label, { sha1: file.sha1, size: file.size });
    if (opts.prefix !== undefined && opts.prefix.replace(/^\/+|\/+$/g, '') !== sourceFolder(meta.source)) {
      throw new RcuError('USAGE', `${label}: eopkg packages are placed at <prefix>/<source>/<file> (here ${meta.treePath}); --prefix cannot change that`);
    }
    return { treePath: meta.treePath, meta };
  },

  async describe(blobPath: string, entry: TreeEntry, hashes: BlobHashes): Promise<EopkgMeta | { asset: string }> {
    // Assets (root distribution.xml, ...) carry no per-blob metadata: the index parses them from the blob.
    const kind = assetKindOfPath(entry.path);
    if (kind) return { asset: ASSET_FILE[kind] };
    const base = safeBasename(entry.path, entry.path);
    return describePackage(blobPath, base, entry.path, { sha1: hashes.sha1, size: hashes.size });
  },

  async writeIndexes(ctx: IndexContext): Promise<string[]> {
    return (await writeEopkgIndexes(ctx)).files;
  },

  verifyIndexes: verifyEopkgIndexes,
};

export default eopkgFormat;
