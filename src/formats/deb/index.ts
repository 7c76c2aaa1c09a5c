/**
 * The deb format (Debian/apt repositories): placement `pool/<component>/<prefix>/<source>/<file>.deb`,
 * metadata (the stanza's control part and hashes) from the .deb's control file, and per distribution
 * Packages{.xz,.gz} built from cached groups, by-hash, and Release.
 */
import type { BlobHashes, Format, IncomingFile, IndexContext, Placement, PlaceOptions, TreeEntry, VerifyContext } from '../format.js';
import { RcuError } from '../../util/errors.js';
import { checkDebChange } from './check.js';
import { writeDebIndexes } from './indexes.js';
import { badDeb, describeDeb, treePathFor, type DebMeta } from './package.js';
import { debSettings, pickDist } from './settings.js';
import { verifyDebIndexes } from './verify.js';

export type { DebMeta } from './package.js';
export { canonicalName, parseDebPath, poolPrefix, treePathFor, isDebMeta } from './package.js';
export { compareVersions, parseVersion } from './version.js';
export { debSettings, makeDist, pickDist, type DebSettings, type DistConfig } from './settings.js';
export { binaryDirs, distDir, lastDebStats } from './indexes.js';

/** Root names the format generates (pool/dists layout and flat layout); never pool entries. */
export const DEB_INDEX_FILES = ['dists', 'Packages', 'Packages.gz', 'Packages.xz', 'Release', 'InRelease', 'Release.gpg', 'by-hash', 'Sources', 'Sources.gz', 'Sources.xz'] as const;

export const debFormat: Format = {
  name: 'deb',
  indexFiles: DEB_INDEX_FILES,

  async place(file: IncomingFile, opts: PlaceOptions): Promise<Placement> {
    const label = file.source;
    if (!file.relPath.endsWith('.deb')) throw badDeb(label, 'not a .deb file (binary packages end with .deb)');
    if (opts.prefix !== undefined) throw new RcuError('USAGE', `${label}: deb packages are placed at pool/<component>/<prefix>/<source>/<file>; use --component, not --prefix`);
    const settings = debSettings(opts.settings ?? {});
    const dist = pickDist(settings, opts.dist);
    const component = opts.component ?? dist.components[0]!;
    if (!dist.components.includes(component)) throw new RcuError('USAGE', `component '${component}' is not one of distribution ${dist.codename}'s (${dist.components.join(', ')})`);
    const meta = await describeDeb(file.bytes ? Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength) : file.copyPath, label, file);
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

  async describe(blobPath: string, entry: TreeEntry, hashes: BlobHashes): Promise<DebMeta> {
    return describeDeb(blobPath, entry.path, hashes);
  },

  checkChange: checkDebChange,

  async writeIndexes(ctx: IndexContext): Promise<string[]> {
    return writeDebIndexes(ctx);
  },

  verifyIndexes: async (ctx: VerifyContext) => verifyDebIndexes(ctx),
};

export default debFormat;
