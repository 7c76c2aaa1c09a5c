/**
 * The eopkg format (Solus): placement `<prefix>/<source>/<file>`, metadata from metadata.xml, and
 * eopkg-index.xml (+ .xz, sha1/sha256 companions) built incrementally from cached xz blocks.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobHashes, Format, IncomingFile, IndexContext, Placement, PlaceOptions, TreeEntry, VerifyContext } from '../format.js';
import { RcuError, errnoCode } from '../../util/errors.js';
import { tmpName } from '../../util/fsx.js';
import { parseAssets } from './assets.js';
import { sourceFolder } from './placement.js';
import { buildIndex, renderIndex, type BuildStats, type IndexItem } from './index-builder.js';
import { describePackage, isEopkgMeta, labelFor, safeBasename, type EopkgMeta } from './package.js';
import { runXz } from './xz-blocks.js';

export { ASSETS_SETTING_KEY, ASSET_FILE, ASSET_KINDS, assetsSetting, parseAssets, validateAsset, withAsset } from './assets.js';
export type { AssetKind, EopkgAssetsSetting, ParsedAssets } from './assets.js';
export type { EopkgMeta } from './package.js';
export type { BuildStats } from './index-builder.js';
export { parseFileName, packageFileName, deltaFileName } from './filename.js';
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

function isPackagePath(p: string): boolean {
  return p.endsWith('.eopkg');
}

async function loadItems(entries: readonly TreeEntry[], loadMeta: (e: TreeEntry) => Promise<unknown>): Promise<IndexItem[]> {
  const pk = entries.filter((e) => isPackagePath(e.path));
  const metas = await Promise.all(pk.map((e) => loadMeta(e)));
  return pk.map((e, i) => {
    const meta = metas[i];
    if (!isEopkgMeta(meta)) throw new RcuError('FAILURE', `${e.path}: cached eopkg metadata is missing or from another version (rebuild the metadata cache)`);
    return { path: e.path, size: e.size, meta };
  });
}

const hex = (algo: 'sha1' | 'sha256', b: Uint8Array): string => createHash(algo).update(b).digest('hex');

/** Write `data` into `dir/name` by temporary name + rename (durability: the engine syncs the staging tree). */
async function writeStaged(dir: string, name: string, data: readonly Uint8Array[] | Uint8Array | string): Promise<void> {
  const tmp = tmpName(dir, name);
  try {
    if (Array.isArray(data)) {
      const fh = await fsp.open(tmp, 'wx', 0o644);
      try {
        for (const buf of data as Uint8Array[]) {
          for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
        }
      } finally {
        await fh.close();
      }
    } else await fsp.writeFile(tmp, data as Uint8Array | string, { flag: 'wx', mode: 0o644 });
    await fsp.rename(tmp, path.join(dir, name));
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export async function writeEopkgIndexes(ctx: IndexContext, opts: { groupMask?: number } = {}): Promise<{ files: string[]; stats: BuildStats }> {
  const assets = parseAssets(ctx.settings);
  const items = await loadItems(ctx.entries, ctx.loadMeta);
  const built = await buildIndex(items, assets, { cacheDir: ctx.cacheDir, groupMask: opts.groupMask });
  const { xml, xz } = built;
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  for (const b of xml) {
    sha1.update(b);
    sha256.update(b);
  }
  const files: [string, readonly Uint8Array[] | Uint8Array | string][] = [
    [INDEX_XML, xml],
    [`${INDEX_XML}.xz`, xz],
    [`${INDEX_XML}.sha1sum`, sha1.digest('hex') + '\n'],
    [`${INDEX_XML}.sha256sum`, sha256.digest('hex') + '\n'],
    [`${INDEX_XML}.xz.sha1sum`, hex('sha1', xz) + '\n'],
    [`${INDEX_XML}.xz.sha256sum`, hex('sha256', xz) + '\n'],
  ];
  await Promise.all(files.map(([n, d]) => writeStaged(ctx.stagingDir, n, d)));
  lastIndexStats = built.stats;
  return { files: files.map(([n]) => n), stats: built.stats };
}

/** The index XML writeIndexes would produce for these entries and settings (no compression). */
export async function renderIndexXml(entries: readonly TreeEntry[], settings: Record<string, unknown>, loadMeta: (e: TreeEntry) => Promise<unknown>, groupMask?: number): Promise<Buffer> {
  const items = await loadItems(entries, loadMeta);
  return renderIndex(items, parseAssets(settings), groupMask);
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

export async function verifyEopkgIndexes(ctx: VerifyContext): Promise<string[]> {
  const faults: string[] = [];
  const dir = ctx.snapshotDir;
  const xml = await readOrFault(path.join(dir, INDEX_XML), faults);
  const xz = await readOrFault(path.join(dir, `${INDEX_XML}.xz`), faults);
  const sums: [string, Buffer | undefined, 'sha1' | 'sha256'][] = [
    [`${INDEX_XML}.sha1sum`, xml, 'sha1'],
    [`${INDEX_XML}.sha256sum`, xml, 'sha256'],
    [`${INDEX_XML}.xz.sha1sum`, xz, 'sha1'],
    [`${INDEX_XML}.xz.sha256sum`, xz, 'sha256'],
  ];
  for (const [name, data, algo] of sums) {
    const s = await readOrFault(path.join(dir, name), faults);
    if (s === undefined || data === undefined) continue;
    const want = hex(algo, data);
    const len = algo === 'sha1' ? 40 : 64;
    const text = s.toString('latin1');
    if (!new RegExp(`^[0-9a-f]{${len}}\\n?$`).test(text)) faults.push(`${name}: not ${len} hex characters (and an optional newline)`);
    else if (text.trim() !== want) faults.push(`${name}: says ${text.trim()}, the file hashes to ${want}`);
  }
  if (xz !== undefined && xml !== undefined) {
    try {
      const out = await runXz(['-d', '-c', '--format=xz', '--single-stream'], xz);
      if (!out.equals(xml)) faults.push(`${INDEX_XML}.xz: does not decompress to ${INDEX_XML}`);
    } catch (e) {
      faults.push(`${INDEX_XML}.xz: does not decompress (${(e as Error).message})`);
    }
  }
  if (xml !== undefined) {
    let want: Buffer | undefined;
    try {
      want = await renderIndexXml(ctx.entries, ctx.settings, ctx.loadMeta);
    } catch (e) {
      faults.push(`${INDEX_XML}: cannot regenerate for comparison (${(e as Error).message})`);
    }
    if (want && !want.equals(xml)) faults.push(`${INDEX_XML}: differs from the index the snapshot's packages and assets produce`);
  }
  return faults;
}

export const eopkgFormat: Format = {
  name: 'eopkg',
  indexFiles: INDEX_FILES,

  async place(file: IncomingFile, opts: PlaceOptions): Promise<Placement> {
    const label = labelFor(file.source, file.relPath);
    const base = safeBasename(file.relPath, label);
    const meta = await describePackage(file.copyPath, base, label, { sha1: file.sha1, size: file.size });
    if (opts.prefix !== undefined && opts.prefix.replace(/^\/+|\/+$/g, '') !== sourceFolder(meta.source)) {
      throw new RcuError('USAGE', `${label}: eopkg packages are placed at <prefix>/<source>/<file> (here ${meta.treePath}); --prefix cannot change that`);
    }
    return { treePath: meta.treePath, meta };
  },

  async describe(blobPath: string, entry: TreeEntry, hashes: BlobHashes): Promise<EopkgMeta> {
    const base = safeBasename(entry.path, entry.path);
    return describePackage(blobPath, base, entry.path, { sha1: hashes.sha1, size: hashes.size });
  },

  async writeIndexes(ctx: IndexContext): Promise<string[]> {
    return (await writeEopkgIndexes(ctx)).files;
  },

  verifyIndexes: verifyEopkgIndexes,
};

export default eopkgFormat;
