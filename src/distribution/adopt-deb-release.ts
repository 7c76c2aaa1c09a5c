/**
 * One distribution of a published apt tree, read for adopting it: its Release (InRelease's signed text
 * when present), every index that Release lists and the tree ships checked against the Release's
 * strongest checksum list, and which Packages and Sources file to read (one variant per index). The
 * parsing is sync-deb's (the same rules a mirror's sync applies); only the choice of what to read is here.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeDist, type DistConfig } from '../formats/deb/index.js';
import { clearsignedText, parseParagraph, releaseSums } from './sync-deb.js';

/** One index of a distribution: a Packages (binary) or Sources file, the variant that is read. */
export interface DistIndex {
  /** '' for a flat repository. */
  component: string;
  /** 'amd64', 'all', ... ('' for a flat repository and for Sources). */
  arch: string;
  /** The variant read, relative to the tree root. */
  file: string;
}

export interface ReleaseRead {
  /** The Release's folder relative to the tree root: `dists/bookworm/`, or '' (flat). */
  dir: string;
  /** The file whose text was read (InRelease or Release), relative to the tree root. */
  file: string;
  fields: Map<string, string>;
  packages: DistIndex[];
  sources: DistIndex[];
  /** Index files the Release lists and the tree ships, checked (relative to the tree root). */
  checked: Set<string>;
}

const PACKAGES = /^(?:(.+)\/binary-([^/]+)\/)?Packages(\.gz|\.xz|\.bz2)?$/;
const SOURCES = /^(.+)\/source\/Sources(\.gz|\.xz|\.bz2)?$/;
/** Variants this reader decodes, best first (the plain file needs no decompression). */
const READABLE = ['', '.gz', '.xz'];

function isFile(abs: string): boolean {
  return fs.statSync(abs, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * Read and check the Release in `dir` of the tree `root`. Faults (a Release that does not match what
 * the tree ships, a listed index with no readable variant) are appended to `faults`; undefined when
 * the folder has no Release or it cannot be used.
 */
export function readRelease(root: string, dir: string, flat: boolean, faults: string[]): ReleaseRead | undefined {
  const at = (rel: string) => path.join(root, dir, rel);
  let file: string;
  let text: string | undefined;
  if (isFile(at('InRelease'))) {
    file = `${dir}InRelease`;
    text = clearsignedText(fs.readFileSync(at('InRelease'), 'utf8'));
    if (text === undefined) {
      faults.push(`${file}: not a clearsigned file`);
      return undefined;
    }
    if (isFile(at('Release')) && fs.readFileSync(at('Release'), 'utf8').trimEnd() !== text.trimEnd()) {
      faults.push(`${dir}Release and ${file} differ (a publish was interrupted, or one was edited)`);
      return undefined;
    }
  } else if (isFile(at('Release'))) {
    file = `${dir}Release`;
    text = fs.readFileSync(at('Release'), 'utf8');
  } else return undefined;
  const fields = parseParagraph(text.split(/\n\n/)[0]!);
  const sums = releaseSums(fields);
  if (!sums || sums.sums.length === 0) {
    faults.push(`${file}: lists no checksums (MD5Sum, SHA1 or SHA256): its indexes cannot be checked`);
    return undefined;
  }
  const before = faults.length;
  const checked = new Set<string>();
  const listed = new Set<string>();
  for (const s of sums.sums) {
    const rel = path.posix.normalize(s.path);
    if (rel.startsWith('../') || path.posix.isAbsolute(rel)) {
      faults.push(`${file}: lists ${s.path}, outside its folder`);
      continue;
    }
    listed.add(rel);
    const st = fs.statSync(at(rel), { throwIfNoEntry: false });
    if (!st?.isFile()) continue; // listed, not shipped: apt allows that (the uncompressed Packages, say)
    if (st.size !== s.size) faults.push(`${dir}${rel}: ${st.size} bytes, ${file} says ${s.size}`);
    else if (createHash(sums.algo).update(fs.readFileSync(at(rel))).digest('hex') !== s.hash) faults.push(`${dir}${rel}: ${sums.algo.toUpperCase()} differs from ${file}`);
    else checked.add(rel);
  }
  if (faults.length > before) return undefined;
  const packages = pickVariants(listed, checked, PACKAGES, dir, file, flat, faults, true);
  const sources = flat ? [] : pickVariants(listed, checked, SOURCES, dir, file, flat, faults, false);
  if (faults.length > before) return undefined;
  return { dir, file, fields, packages, sources, checked: new Set([...checked].map((r) => dir + r)) };
}

/**
 * For each index the Release lists (by its uncompressed name), the checked variant to read. A Packages
 * index listed with no readable variant shipped is a fault (apt would fail on it); a Sources index
 * only goes unread.
 */
function pickVariants(listed: Set<string>, checked: Set<string>, re: RegExp, dir: string, file: string, flat: boolean, faults: string[], required: boolean): DistIndex[] {
  const byIndex = new Map<string, { component: string; arch: string; variants: Map<string, string> }>();
  for (const rel of listed) {
    const m = re.exec(rel);
    if (!m) continue;
    const binary = re === PACKAGES;
    if (binary && (m[1] === undefined) !== flat) continue; // a flat Packages inside dists/, or the reverse
    const component = m[1] ?? '';
    const arch = binary ? m[2] ?? '' : '';
    const suffix = (binary ? m[3] : m[2]) ?? '';
    const key = `${component}\0${arch}`;
    let idx = byIndex.get(key);
    if (!idx) byIndex.set(key, (idx = { component, arch, variants: new Map() }));
    if (checked.has(rel)) idx.variants.set(suffix, rel);
  }
  const out: DistIndex[] = [];
  for (const idx of byIndex.values()) {
    const suffix = READABLE.find((v) => idx.variants.has(v));
    if (suffix !== undefined) {
      out.push({ component: idx.component, arch: idx.arch, file: dir + idx.variants.get(suffix)! });
      continue;
    }
    if (!required) continue;
    const name = `${dir}${idx.component ? `${idx.component}/binary-${idx.arch}/` : ''}Packages`;
    faults.push(idx.variants.size
      ? `${name}: only ${[...idx.variants.values()].join(', ')} is shipped; adopt reads Packages, Packages.gz or Packages.xz`
      : `${name}: listed in ${file}, but no variant of it is in the tree`);
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter((w) => w !== '');

/**
 * The rcurepo distribution a Release describes: Codename (else the folder's name, else `fallback`),
 * Suite, Origin and Label as they are (clients pin them), components and architectures from the
 * Release and from the indexes it lists. `all` and `source` are not index architectures for rcurepo.
 */
export function distConfigOf(r: ReleaseRead | undefined, opts: { folder?: string; fallback?: string; flat: boolean; packages: DistIndex[] }): DistConfig {
  const f = r?.fields ?? new Map<string, string>();
  const codename = f.get('Codename') || opts.folder || f.get('Suite') || opts.fallback;
  const where = r?.file ?? 'the tree';
  if (!codename) throw new Error(`${where}: no Codename or Suite; name the distribution with --dist`);
  const archs = [...words(f.get('Architectures')), ...opts.packages.map((p) => p.arch)].filter((a, i, all) => a !== '' && a !== 'all' && a !== 'source' && all.indexOf(a) === i);
  const components = opts.flat ? ['main'] : [...words(f.get('Components')), ...opts.packages.map((p) => p.component)].filter((c, i, all) => c !== '' && all.indexOf(c) === i);
  if (archs.length === 0) throw new Error(`${where}: names no binary architecture (Architectures: ${f.get('Architectures') ?? '(none)'})`);
  for (const c of components) if (c.includes('/')) throw new Error(`${where}: component '${c}' has a folder in its name, which rcurepo does not publish`);
  try {
    return makeDist({ codename, suite: f.get('Suite') || codename, components, architectures: archs, origin: f.get('Origin'), label: f.get('Label') });
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message.replace(/^--/, '')}`);
  }
}
