/**
 * Sources indexes (`<component>/source/Sources{,.gz,.xz}`) from the metadata cached with each .dsc blob,
 * through the same grouped, cached index machinery as Packages (src/formats/shared/): a one-source
 * change recompresses one group per variant. Stanzas are the .dsc paragraph as `apt-ftparchive sources`
 * writes it: Source renamed Package, Directory added, Files and Checksums-Sha1/256/512 each listing the
 * .dsc itself first and then its files with every hash (computed when a file is staged, as apt-ftparchive
 * computes those the .dsc does not state), fields in apt's source order, unknown fields after them in
 * their .dsc order.
 */
import path from 'node:path';
import type { TreeEntry } from '../format.js';
import type { Chunk } from '../shared/chunks.js';
import { oncePerEntries } from '../shared/once-per-entries.js';
import { RcuError } from '../../util/errors.js';
import { compareBytewise } from '../../util/paths.js';
import { DSC_META_VERSION, isDscMeta, isListedMeta, LISTED_META_VERSION, parseDscPath, type DscMeta, type DscPath, type ListedFileMeta } from './dsc.js';
import { cutGroups, keyPrefix, type DebPart } from './packages-index.js';

/** Bump when a stanza's rendering changes: cached groups of older versions are never used. */
const CHUNK_VERSION = `deb-sources-v1/meta-v${DSC_META_VERSION}.${LISTED_META_VERSION}`;

/** apt-pkg's TFRewriteSourceOrder (tagfile-keys order of apt 2.x). */
const SOURCE_ORDER = [
  'Package', 'Format', 'Binary', 'Architecture', 'Version', 'Priority', 'Section', 'Origin', 'Maintainer', 'Original-Maintainer', 'Uploaders',
  'Dm-Upload-Allowed', 'Standards-Version', 'Build-Depends', 'Build-Depends-Arch', 'Build-Depends-Indep', 'Build-Conflicts', 'Build-Conflicts-Arch',
  'Build-Conflicts-Indep', 'Testsuite', 'Testsuite-Triggers', 'Homepage', 'Description', 'Vcs-Browser', 'Vcs-Browse', 'Vcs-Arch', 'Vcs-Bzr', 'Vcs-Cvs',
  'Vcs-Darcs', 'Vcs-Git', 'Vcs-Hg', 'Vcs-Mtn', 'Vcs-Svn', 'Directory', 'Package-List', 'Files', 'Checksums-Md5', 'Checksums-Sha1', 'Checksums-Sha256',
  'Checksums-Sha512',
].map((n) => n.toLowerCase());

export interface SourceRef {
  entry: TreeEntry;
  p: DscPath;
}

/** The .dsc files of the tree by component, each list in path order. */
export const sourcesByComponent = oncePerEntries(groupByComponent);

function groupByComponent(entries: readonly TreeEntry[]): Map<string, SourceRef[]> {
  const out = new Map<string, SourceRef[]>();
  for (const e of entries) {
    const p = parseDscPath(e.path);
    if (!p) continue;
    let l = out.get(p.component);
    if (!l) out.set(p.component, (l = []));
    l.push({ entry: e, p });
  }
  for (const l of out.values()) l.sort((a, b) => compareBytewise(a.entry.path, b.entry.path));
  return out;
}

/** Cut a Sources index into content-defined groups keyed by what they are made of (as planPackages). */
export function planSources(refs: readonly SourceRef[], opts: { preset: number; groupMask?: number }): { chunks: Chunk<DebPart>[]; groups: number } {
  const { chunks } = cutGroups(refs, keyPrefix(CHUNK_VERSION, opts.preset, true), opts.groupMask);
  return { chunks, groups: chunks.length };
}

/** The file lists of a stanza, by field: the .dsc's own line first, then each listed file's. */
const LISTS = [
  ['Files', 'md5'],
  ['Checksums-Sha1', 'sha1'],
  ['Checksums-Sha256', 'sha256'],
  ['Checksums-Sha512', 'sha512'],
] as const;

/**
 * One Sources stanza (with the empty line that ends it). `listed` holds the hashes of each file the .dsc
 * lists (in its Files order): every list is written with every hash, whichever the .dsc states.
 */
export function renderSourceStanza(meta: DscMeta, entry: TreeEntry, listed: readonly ListedFileMeta[]): string {
  const dscFile = path.posix.basename(entry.path);
  const rewritten = new Map<string, string>();
  rewritten.set('package', `Package: ${meta.source}\n`);
  rewritten.set('directory', `Directory: ${path.posix.dirname(entry.path)}\n`);
  for (const [name, key] of LISTS) {
    const lines = [` ${meta[key]} ${meta.size} ${dscFile}`, ...meta.files.map((f, i) => ` ${listed[i]![key]} ${f.size} ${f.name}`)];
    rewritten.set(name.toLowerCase(), `${name}:\n${lines.join('\n')}\n`);
  }
  const rest: string[] = [];
  for (const f of meta.fields) {
    const k = f.name.toLowerCase();
    if (k === 'source' || rewritten.has(k) || k === 'checksums-md5') continue;
    if (SOURCE_ORDER.includes(k)) rewritten.set(k, f.raw);
    else rest.push(f.raw);
  }
  let out = '';
  for (const k of SOURCE_ORDER) {
    const v = rewritten.get(k);
    if (v !== undefined) out += v;
  }
  return out + rest.join('') + '\n';
}

export async function sourceStanzaOf(entry: TreeEntry, loadMeta: (e: TreeEntry) => Promise<unknown>): Promise<string> {
  const meta = await loadMeta(entry);
  if (!isDscMeta(meta)) throw new RcuError('FAILURE', `${entry.path}: cached source metadata is missing or from another version (rebuild it with 'verify --repair')`);
  if (meta.sha256 !== entry.sha256) throw new RcuError('FAILURE', `${entry.path}: cached source metadata belongs to other bytes`);
  const dir = path.posix.dirname(entry.path);
  const listed: ListedFileMeta[] = [];
  for (const f of meta.files) {
    // The listed file's own metadata (its blob is in the tree beside the .dsc: the import put it there).
    const m = await loadMeta({ path: path.posix.join(dir, f.name), sha256: f.sha256, size: f.size });
    if (!isListedMeta(m) || m.sha256 !== f.sha256) throw new RcuError('FAILURE', `${entry.path}: cached metadata of the listed file ${f.name} is missing or belongs to other bytes`);
    listed.push(m);
  }
  return renderSourceStanza(meta, entry, listed);
}

/** The whole Sources text without any cache (what full verification compares with). */
export async function renderSources(refs: readonly SourceRef[], loadMeta: (e: TreeEntry) => Promise<unknown>): Promise<Buffer> {
  const out: string[] = [];
  for (const r of refs) out.push(await sourceStanzaOf(r.entry, loadMeta));
  return Buffer.from(out.join(''), 'utf8');
}
