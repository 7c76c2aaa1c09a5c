/**
 * The deb format (Debian/apt repositories): placement `pool/<component>/<prefix>/<source>/<file>.deb`,
 * metadata (the stanza's control part and hashes) from the .deb's control file; source packages (a .dsc
 * with the files it lists) at `pool/<component>/<prefix>/<source>/`; and per distribution
 * Packages{.xz,.gz} and Sources{.xz,.gz} built from cached groups, by-hash, and Release.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobHashes, CompanionList, Format, IncomingFile, IndexContext, Placement, PlaceOptions, TreeEntry, VerifyContext } from '../format.js';
import { RcuError } from '../../util/errors.js';
import { checkDebChange } from './check.js';
import { writeDebIndexes } from './indexes.js';
import { badDeb, describeDeb, isDebMeta, treePathFor, type DebMeta } from './package.js';
import { debSettings, pickDist, type DistConfig } from './settings.js';
import { badDsc, describeDsc, describeListedFile, dscName, MAX_DSC_BYTES, sourceDir, type DscMeta, type ListedFileMeta } from './dsc.js';
import { verifyDebIndexes } from './verify.js';

export type { DebMeta } from './package.js';
export type { DscMeta } from './dsc.js';
export { isDscMeta, parseDscPath } from './dsc.js';
export { canonicalName, parseDebPath, poolPrefix, treePathFor, isDebMeta } from './package.js';
export { compareVersions, parseVersion } from './version.js';
export { formatDependency, formatRelation, multiArchOf, parseDependencies, parseProvides, versionSatisfies, type Dependency, type Provided, type Relation } from './relations.js';
export { debSettings, makeDist, pickDist, type DebSettings, type DistConfig } from './settings.js';
export { binaryDirs, distDir, lastDebStats } from './indexes.js';

/** Root names the format generates (pool/dists layout and flat layout); never pool entries. */
export const DEB_INDEX_FILES = ['dists', 'Packages', 'Packages.gz', 'Packages.xz', 'Release', 'InRelease', 'Release.gpg', 'by-hash', 'Sources', 'Sources.gz', 'Sources.xz'] as const;

export const debFormat: Format = {
  name: 'deb',
  indexFiles: DEB_INDEX_FILES,

  async place(file: IncomingFile, opts: PlaceOptions): Promise<Placement> {
    const label = file.source;
    const isDsc = file.relPath.endsWith('.dsc');
    if (!file.relPath.endsWith('.deb') && !isDsc) throw badDeb(label, 'not a .deb or .dsc file (binary packages end with .deb, source packages are imported by their .dsc)');
    if (opts.prefix !== undefined) throw new RcuError('USAGE', `${label}: deb packages are placed at pool/<component>/<prefix>/<source>/<file>; use --component, not --prefix`);
    const settings = debSettings(opts.settings ?? {});
    const dist = pickDist(settings, opts.dist);
    const component = componentOf(dist, opts.component);
    if (isDsc) {
      const meta = describeDsc(await bytesOf(file), label, file);
      return { treePath: path.posix.join(sourceDir(component, meta.source), dscName(meta)), meta };
    }
    // A re-delivery is placed from what the first import read out of its control file (same bytes, same
    // control): no control.tar decoding for the no-op imports of build bots.
    const found = file.cachedMeta?.();
    const cached = isDebMeta(found) && found.sha256 === file.sha256 ? found : undefined;
    const meta = cached ?? (await describeDeb(file.bytes ? Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength) : file.copyPath, label, file));
    if (meta.architecture !== 'all' && !settings.dists.some((d) => d.components.includes(component) && d.architectures.includes(meta.architecture))) {
      throw badDeb(label, `Architecture ${meta.architecture} is not published by any distribution with component ${component} (architectures: ${dist.architectures.join(', ')}; add-dist or create the repository with --architectures)`);
    }
    let treePath: string;
    try {
      treePath = treePathFor(component, meta);
    } catch (e) {
      throw badDeb(label, (e as Error).message);
    }
    return { treePath, meta };
  },

  /** A .dsc lists its source's files: they are imported with it, into its pool folder. */
  async companions(file: { abs: string; rel: string }, opts: PlaceOptions): Promise<CompanionList | undefined> {
    if (!file.rel.endsWith('.dsc')) return undefined;
    const settings = debSettings(opts.settings ?? {});
    const component = componentOf(pickDist(settings, opts.dist), opts.component);
    const bytes = await readDscFile(file.abs);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const meta = describeDsc(bytes, file.abs, { sha256, sha1: '', size: bytes.length });
    const dir = sourceDir(component, meta.source);
    return { sha256, files: meta.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size, treePath: path.posix.join(dir, f.name), otherHashes: { md5: f.md5, sha1: f.sha1, sha512: f.sha512 } })) };
  },

  async describe(blobPath: string, entry: TreeEntry, hashes: BlobHashes): Promise<DebMeta | DscMeta | ListedFileMeta> {
    if (entry.path.endsWith('.dsc')) return describeDsc(await readDscFile(blobPath), entry.path, hashes);
    if (entry.path.endsWith('.deb')) return describeDeb(blobPath, entry.path, hashes);
    // A file a .dsc lists (the only other files a deb tree holds): the hashes its Sources lines need.
    return describeListedFile(blobPath, hashes);
  },

  checkChange: checkDebChange,

  async writeIndexes(ctx: IndexContext): Promise<string[]> {
    return writeDebIndexes(ctx);
  },

  verifyIndexes: async (ctx: VerifyContext) => verifyDebIndexes(ctx),
};

function componentOf(dist: DistConfig, component: string | undefined): string {
  const c = component ?? dist.components[0]!;
  if (!dist.components.includes(c)) throw new RcuError('USAGE', `component '${c}' is not one of distribution ${dist.codename}'s (${dist.components.join(', ')})`);
  return c;
}

async function bytesOf(file: IncomingFile): Promise<Buffer> {
  if (file.bytes) return Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  return readDscFile(file.copyPath);
}

/** A .dsc's bytes, refusing anything too large to be one before reading it whole. */
async function readDscFile(file: string): Promise<Buffer> {
  const st = await fsp.stat(file);
  if (st.size > MAX_DSC_BYTES) throw badDsc(file, `${st.size} bytes, more than a source description can be`);
  return fsp.readFile(file);
}

export default debFormat;
