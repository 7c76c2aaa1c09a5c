/**
 * A package's `files.xml` (the list of what its install.tar.xz installs) and the choice of what a delta
 * package carries, as eopkg defines it (pisi/operations/delta.py, find_delta): every file of the new
 * build whose Hash occurs nowhere among the old build's hashes, plus every entry without a Hash (empty
 * directories). A symbolic link's Hash is the sha1 of its target, so an unchanged link is left out.
 */
import { decodeXmlBytes } from './metadata.js';
import { XmlError, childText, childrenNamed, parseXml } from './xml.js';

/** Largest files.xml accepted (uncompressed): a package with ~100,000 files stays well below. */
export const FILES_XML_CAP = 64 * 1024 * 1024;

export interface FileEntry {
  path: string;
  type: string;
  /** sha1 hex of the content (of the target for a symlink); undefined for directories. */
  hash: string | undefined;
  mode: string;
  size: number;
}

export class FilesXmlError extends Error {}

export function parseFilesXml(bytes: Uint8Array): FileEntry[] {
  let root;
  try {
    root = parseXml(decodeXmlBytes(bytes));
  } catch (e) {
    throw new FilesXmlError(`files.xml: ${(e as Error).message}`);
  }
  if (root.name !== 'Files') throw new FilesXmlError(`files.xml: root element is <${root.name}>, not <Files>`);
  const out: FileEntry[] = [];
  for (const f of childrenNamed(root, 'File')) {
    const p = childText(f, 'Path');
    if (!p) throw new FilesXmlError('files.xml: a File without a Path');
    const hash = childText(f, 'Hash')?.trim() || undefined;
    if (hash !== undefined && !/^[0-9a-f]{40}$/.test(hash)) throw new FilesXmlError(`files.xml: ${p}: Hash '${hash}' is not a sha1`);
    out.push({ path: normalizeTarPath(p), type: childText(f, 'Type') ?? '', hash, mode: childText(f, 'Mode') ?? '', size: Number(childText(f, 'Size') ?? 0) });
  }
  return out;
}

/** Paths compared between files.xml and tar headers: no leading './' or '/', no trailing '/'. */
export function normalizeTarPath(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

export interface DeltaSelection {
  /** Paths of the new build's entries the delta's install.tar.xz must hold, with their expected hash. */
  carried: Map<string, string | undefined>;
  /** Every entry of the new build changed: eopkg makes no delta. */
  pointless: boolean;
  total: number;
}

export function selectDeltaFiles(oldFiles: readonly FileEntry[], newFiles: readonly FileEntry[]): DeltaSelection {
  const oldHashes = new Set<string>();
  for (const f of oldFiles) if (f.hash) oldHashes.add(f.hash);
  const carried = new Map<string, string | undefined>();
  let count = 0;
  for (const f of newFiles) {
    if (f.hash !== undefined && oldHashes.has(f.hash)) continue;
    count++;
    carried.set(f.path, f.hash);
  }
  // eopkg compares counts (duplicated paths count twice there too).
  return { carried, pointless: count === newFiles.length, total: newFiles.length };
}

export { XmlError };
