/**
 * Upload manifests: a file that names the uploaded files of one delivery, each with its sha256, and
 * (usually) the target repository. The watcher, the import pipeline and the delivery records work with
 * the one shape below, whatever the kind; a kind is chosen by the manifest's file-name suffix.
 *
 * The kinds: `.tram` (tram.ts) and Debian's `.changes` (changes.ts). To add one: write a module exporting a ManifestKind whose read()
 * returns an UploadManifest (throwing RcuError BAD_INPUT, naming the file and reason, for anything it
 * cannot accept), and append it to MANIFEST_KINDS below. Load heavy parsers inside read() (as tram.ts
 * loads its TOML parser), since every `import` and watcher scan consults this list. Nothing else changes:
 * `rcurepo import REPO UPLOAD<suffix>` and `watch` take it from then on.
 */
import fsp from 'node:fs/promises';
import { errnoCode, RcuError } from '../util/errors.js';
import { refuseReason } from './uploads.js';
import { tramManifest } from './tram.js';
import { changesManifest } from './changes.js';

export interface ManifestFile {
  /** Path relative to the manifest's folder (checked: no '..', no symbolic links on the way). */
  path: string;
  /** Lower-case hex; the uploaded bytes must hash to it. */
  sha256: string;
  /** Size in bytes, when the kind states it (checked too). */
  size?: number;
  /** false: part of the delivery, checked, but not imported (a .changes' .buildinfo, a build record). */
  publish?: false;
}

export interface UploadManifest {
  /** The manifest file as given. */
  file: string;
  /** The folder its paths are relative to. */
  dir: string;
  /** Repository the delivery is for; absent when the kind does not say (the caller's --repo decides). */
  target?: string;
  files: ManifestFile[];
  /** The signed text when the manifest was clearsigned (checked against the repository's uploadKeyring). */
  signedText?: string;
  /** Distributions the delivery is for (a .changes' Distribution field); the repository must have one of them. */
  dists?: string[];
  /**
   * Identity of the delivery, independent of formatting (a re-delivery is answered from its record:
   * repos/NAME/meta/delivered/<key>.json). Hex, at most 64 characters.
   */
  key: string;
}

export interface ManifestKind {
  /** File-name suffix that selects this kind, with its dot: '.tram'. */
  suffix: string;
  /** Reads a regular file (already checked to be one). Throws RcuError BAD_INPUT for bad content. */
  read(file: string): Promise<UploadManifest>;
}

export const MANIFEST_KINDS: readonly ManifestKind[] = [tramManifest, changesManifest];

export function manifestKindFor(name: string): ManifestKind | undefined {
  return MANIFEST_KINDS.find((k) => name.endsWith(k.suffix));
}

export function isManifestName(name: string): boolean {
  return manifestKindFor(name) !== undefined;
}

/**
 * Read an upload manifest of any kind. Any failure to read it (missing, not a regular file, unreadable,
 * malformed, a parser's own error) is BAD_INPUT naming the file: one bad upload is refused, it never
 * stops a daemon or escapes as an internal error.
 */
export async function readManifest(file: string): Promise<UploadManifest> {
  const kind = manifestKindFor(file);
  if (!kind) throw new RcuError('BAD_INPUT', `${file}: not an upload manifest (known: ${MANIFEST_KINDS.map((k) => k.suffix).join(', ')})`);
  let st;
  try {
    st = await fsp.lstat(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw new RcuError('BAD_INPUT', `${file}: no such manifest`);
    throw new RcuError('BAD_INPUT', `${file}: cannot read the manifest: ${(e as Error).message}`, { cause: e });
  }
  const why = refuseReason(st);
  if (why) throw new RcuError('BAD_INPUT', `${file}: manifest ${why}`);
  try {
    return await kind.read(file);
  } catch (e) {
    if (e instanceof RcuError) throw e;
    throw new RcuError('BAD_INPUT', `${file}: cannot read the ${kind.suffix} manifest: ${(e as Error)?.message?.split('\n')[0] ?? String(e)}`, { cause: e });
  }
}
