/**
 * What a published apt tree (an aptly publish, a reprepro outdir: `dists/` + `pool/`; or a flat
 * repository) holds, read by its own indexes: the distributions with their Release fields, every .deb
 * the checked Packages files list (with the Size and hashes to check it against), the original stanzas
 * rcurepo's regenerated indexes are compared with, and every other file of the tree, reported with the
 * reason it is not adopted. Faults (a Release that does not match its indexes, a listed file that is
 * missing or of another size) refuse the whole tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { canonicalName, type DistConfig } from '../formats/deb/index.js';
import { RcuError } from '../util/errors.js';
import { distConfigOf, readRelease, type DistIndex, type ReleaseRead } from './adopt-deb-release.js';
import { walkTree } from './adopt-survey.js';
import { clearsignedText, decodeIndex, parseParagraph } from './sync-deb.js';

/** A .deb a Packages index lists. */
export interface ListedDeb {
  /** Path relative to the tree root (the stanza's Filename). */
  rel: string;
  abs: string;
  /** Component (and distribution codename) of the first index that lists it: where rcurepo places it. */
  component: string;
  dist: string;
  size: number;
  sha256?: string;
  sha1?: string;
  /** The index that lists it, for messages. */
  listedBy: string;
  /** `package version architecture`. */
  id: string;
}

/** An original Packages index: its stanzas by `package version architecture`. */
export interface OriginalPackages {
  file: string;
  dist: string;
  component: string;
  arch: string;
  stanzas: Map<string, Map<string, string>>;
}

export interface DebAdoptSurvey {
  source: string;
  flat: boolean;
  dists: DistConfig[];
  listed: ListedDeb[];
  originals: OriginalPackages[];
  notImported: string[];
  notes: string[];
  faults: string[];
}

/** Files rcurepo writes itself for a distribution: read and checked here, never imported. */
const REGENERATED = /^(?:Release|(?:.+\/)?binary-[^/]+\/(?:Packages(?:\.[a-z0-9]+)?|Release)|Packages(?:\.[a-z0-9]+)?|(?:.*\/)?by-hash\/.*)$/;

export async function surveyDebTree(source: string, opts: { dists?: string[] }): Promise<DebAdoptSurvey> {
  const { all, odd } = walkTree(source);
  const distsDir = path.join(source, 'dists');
  const folders = fs.statSync(distsDir, { throwIfNoEntry: false })?.isDirectory()
    ? fs.readdirSync(distsDir, { withFileTypes: true }).filter((d) => d.isDirectory() && ['Release', 'InRelease'].some((n) => fs.existsSync(path.join(distsDir, d.name, n)))).map((d) => d.name).sort()
    : [];
  const flat = folders.length === 0;
  // A symbolic link in dists/ (reprepro's suite -> codename) is explained below, not as an odd file.
  const notImported = odd.filter((o) => flat || !/^dists\/[^/]+$/.test(o)).map((o) => `${o}: not a regular file`);
  const s: DebAdoptSurvey = { source, flat, dists: [], listed: [], originals: [], notImported, notes: [], faults: [] };
  if (s.flat && !['Release', 'InRelease', 'Packages', 'Packages.gz', 'Packages.xz'].some((n) => all.includes(n))) {
    throw new RcuError('BAD_INPUT', `${source}: not an apt repository (no dists/*/Release or InRelease, and no Release or Packages at its root)`);
  }
  const reads: Array<{ folder?: string; release?: ReleaseRead; packages: DistIndex[] }> = [];
  if (s.flat) {
    if ((opts.dists ?? []).length > 1) throw new RcuError('USAGE', `${source} is a flat repository: it has one distribution, name at most one --dist`);
    const release = readRelease(source, '', true, s.faults);
    if (!release && s.faults.length === 0) {
      const plain = ['Packages', 'Packages.gz', 'Packages.xz'].find((n) => all.includes(n))!;
      s.notes.push(`${source} has no Release: its Packages could not be checked against one (apt takes such a repository only with [trusted=yes]); rcurepo writes a Release for it`);
      reads.push({ packages: [{ component: '', arch: '', file: plain }] });
    } else if (release) reads.push({ release, packages: release.packages });
  } else {
    const chosen = selectFolders(source, folders, opts.dists);
    for (const folder of folders) if (!chosen.includes(folder)) s.notImported.push(`dists/${folder}: distribution not adopted (not named by --dist)`);
    for (const folder of chosen) {
      const release = readRelease(source, `dists/${folder}/`, false, s.faults);
      if (release) reads.push({ folder, release, packages: release.packages });
    }
    for (const d of fs.readdirSync(distsDir, { withFileTypes: true })) {
      if (!d.isSymbolicLink() && !d.isDirectory() && !d.isFile()) s.notImported.push(`dists/${d.name}: not a regular file`);
      else if (d.isSymbolicLink()) s.notImported.push(`dists/${d.name}: a symbolic link (to ${fs.readlinkSync(path.join(distsDir, d.name))}); rcurepo publishes dists/<suite> beside dists/<codename> itself`);
    }
  }
  if (s.faults.length) return s;
  for (const r of reads) {
    let dist: DistConfig;
    try {
      dist = distConfigOf(r.release, { folder: r.folder, fallback: opts.dists?.[0], flat: s.flat, packages: r.packages });
    } catch (e) {
      s.faults.push((e as Error).message);
      continue;
    }
    if (r.folder !== undefined && r.folder !== dist.codename && r.folder !== dist.suite) {
      s.notes.push(`dists/${r.folder}: its Release names codename ${dist.codename} and suite ${dist.suite}; rcurepo publishes dists/${dist.codename}${dist.suite !== dist.codename ? ` and dists/${dist.suite}` : ''}, so a sources.list line naming ${r.folder} must change`);
    }
    s.dists.push(dist);
    for (const idx of r.packages) await readPackages(s, dist, idx);
    for (const idx of r.release?.sources ?? []) await noteSources(s, idx);
  }
  noteSharedComponents(s);
  checkListedFiles(s);
  classifyRest(s, all, reads);
  return s;
}

/**
 * An rcurepo repository lists a component's packages in every distribution that has the component. Two
 * adopted distributions whose indexes of one component list different packages therefore change: say
 * which, and how to keep them apart (the differences then list each package).
 */
function noteSharedComponents(s: DebAdoptSurvey): void {
  const byComponent = new Map<string, Map<string, Set<string>>>();
  for (const o of s.originals) {
    const dists = byComponent.get(o.component) ?? byComponent.set(o.component, new Map()).get(o.component)!;
    const ids = dists.get(o.dist) ?? dists.set(o.dist, new Set()).get(o.dist)!;
    for (const id of o.stanzas.keys()) ids.add(id);
  }
  for (const [component, dists] of byComponent) {
    const all = new Set([...dists.values()].flatMap((ids) => [...ids]));
    const gaining = [...dists].filter(([, ids]) => ids.size < all.size).map(([d, ids]) => `${d} (${all.size - ids.size} more)`);
    if (gaining.length === 0) continue;
    s.notes.push(`component ${component}: distributions ${[...dists.keys()].join(', ')} list different packages; an rcurepo repository lists a component's packages in every distribution that has it, so ${gaining.join(', ')} will list packages they did not (see the differences). To keep them apart, adopt each distribution into a repository of its own (--dist)`);
  }
}

function selectFolders(source: string, folders: string[], wanted: string[] | undefined): string[] {
  if (!wanted?.length) return folders;
  return wanted.map((w) => {
    if (folders.includes(w)) return w;
    // A suite or codename that differs from the folder's name.
    for (const f of folders) {
      const release = path.join(source, 'dists', f, 'Release');
      const text = fs.existsSync(release) ? fs.readFileSync(release, 'utf8') : clearsignedText(fs.readFileSync(path.join(source, 'dists', f, 'InRelease'), 'utf8')) ?? '';
      const fields = parseParagraph(text.split(/\n\n/)[0]!);
      if (fields.get('Codename') === w || fields.get('Suite') === w) return f;
    }
    throw new RcuError('USAGE', `--dist ${w}: ${source} has no such distribution (it has ${folders.join(', ')})`);
  }).filter((f, i, all) => all.indexOf(f) === i);
}

async function readPackages(s: DebAdoptSurvey, dist: DistConfig, idx: DistIndex): Promise<void> {
  let text: string;
  try {
    text = await decodeIndex(idx.file, fs.readFileSync(path.join(s.source, idx.file)));
  } catch (e) {
    s.faults.push(`${idx.file}: cannot be read (${(e as Error).message})`);
    return;
  }
  const original: OriginalPackages = { file: idx.file, dist: dist.codename, component: idx.component || dist.components[0]!, arch: idx.arch, stanzas: new Map() };
  s.originals.push(original);
  const byRel = new Map(s.listed.map((l) => [l.rel, l] as const));
  const byName = new Map(s.listed.map((l) => [canonicalOf(l.id), l] as const));
  for (const stanza of text.split(/\n\s*\n/)) {
    if (!stanza.trim()) continue;
    const f = parseParagraph(stanza);
    const [pkg, version, arch, filename] = ['Package', 'Version', 'Architecture', 'Filename'].map((k) => f.get(k));
    if (!pkg || !version || !arch || !filename) {
      s.faults.push(`${idx.file}: a stanza without Package, Version, Architecture or Filename (${pkg ?? stanza.split('\n')[0]})`);
      continue;
    }
    const id = `${pkg} ${version} ${arch}`;
    if (original.stanzas.has(id)) s.faults.push(`${idx.file}: lists ${id} twice`);
    original.stanzas.set(id, f);
    const rel = path.posix.normalize(filename.replace(/^(\.\/)+/, ''));
    if (rel.startsWith('../') || path.posix.isAbsolute(rel) || rel === '.') {
      s.faults.push(`${idx.file}: ${id} has Filename ${filename}, outside the tree`);
      continue;
    }
    const l: ListedDeb = { rel, abs: path.join(s.source, rel), component: original.component, dist: dist.codename, size: Number(f.get('Size')), listedBy: idx.file, id };
    const sha256 = f.get('SHA256')?.toLowerCase();
    const sha1 = f.get('SHA1')?.toLowerCase();
    if (sha256) l.sha256 = sha256;
    if (sha1) l.sha1 = sha1;
    if (!Number.isSafeInteger(l.size) || (!sha256 && !sha1)) {
      s.faults.push(`${idx.file}: ${id} has no usable Size and SHA256 (or SHA1): ${rel} cannot be checked`);
      continue;
    }
    const same = byRel.get(rel);
    if (same) {
      if (same.size !== l.size || (same.sha256 && l.sha256 && same.sha256 !== l.sha256)) s.faults.push(`${rel}: ${same.listedBy} and ${idx.file} disagree about its Size or SHA256`);
      else if (same.component !== l.component) s.notes.push(`${rel}: listed in component ${same.component} (${same.dist}) and ${l.component} (${dist.codename}); rcurepo places a package in one component, ${same.component}`);
      continue;
    }
    const twin = byName.get(canonicalOf(id));
    if (twin) {
      if (twin.sha256 !== l.sha256 || twin.size !== l.size) s.faults.push(`${id}: two different files, ${twin.rel} (${twin.listedBy}) and ${rel} (${idx.file}); rcurepo publishes one file per package, version and architecture`);
      else s.notes.push(`${rel}: the same bytes as ${twin.rel}; adopted once, as ${id}`);
      continue;
    }
    s.listed.push(l);
    byRel.set(rel, l);
    byName.set(canonicalOf(id), l);
  }
}

/** `package_version-without-epoch_arch`: one file per such name in an rcurepo tree. */
function canonicalOf(id: string): string {
  const [pkg, version, arch] = id.split(' ');
  return canonicalName({ package: pkg!, version: version!, architecture: arch! });
}

async function noteSources(s: DebAdoptSurvey, idx: DistIndex): Promise<void> {
  let count = '?';
  try {
    const text = await decodeIndex(idx.file, fs.readFileSync(path.join(s.source, idx.file)));
    count = String(text.split(/\n\s*\n/).filter((st) => /^Package:/m.test(st)).length);
  } catch {
    /* the count is only for the message */
  }
  s.notImported.push(`${idx.file}: ${count} source package(s) not adopted (adopt takes binary packages; their .dsc and source files are listed below as not imported)`);
}

/** Every listed file exists, is a regular file and has the listed size (hashes are checked as it is read). */
function checkListedFiles(s: DebAdoptSurvey): void {
  for (const l of s.listed) {
    const st = fs.statSync(l.abs, { throwIfNoEntry: false });
    if (!st) s.faults.push(`${l.rel}: listed by ${l.listedBy} (${l.id}) but missing`);
    else if (!st.isFile()) s.faults.push(`${l.rel}: listed by ${l.listedBy} (${l.id}) but not a regular file`);
    else if (st.size !== l.size) s.faults.push(`${l.rel}: ${st.size} bytes, ${l.listedBy} says ${l.size}`);
  }
}

/** Every file that is neither adopted nor one of the indexes rcurepo regenerates, with the reason. */
function classifyRest(s: DebAdoptSurvey, all: string[], reads: Array<{ folder?: string; release?: ReleaseRead }>): void {
  const listed = new Set(s.listed.map((l) => l.rel));
  for (const o of s.originals) for (const st of o.stanzas.values()) listed.add(path.posix.normalize(st.get('Filename')!.replace(/^(\.\/)+/, '')));
  const distDirs = reads.map((r) => (r.folder === undefined ? '' : `dists/${r.folder}/`));
  const skipped = s.notImported.filter((n) => n.startsWith('dists/')).map((n) => n.slice(0, n.indexOf(':')) + '/');
  const sourcesNoted = new Set(s.notImported.map((n) => n.slice(0, n.indexOf(':'))));
  // Index files that were read or checked against a Release; another Packages file was never read.
  const read = new Set([...reads.flatMap((r) => [...(r.release?.checked ?? [])]), ...s.originals.map((o) => o.file)]);
  for (const rel of all) {
    if (listed.has(rel) || skipped.some((d) => rel.startsWith(d))) continue;
    const dir = distDirs.filter((d) => rel.startsWith(d)).sort((a, b) => b.length - a.length)[0];
    const inDist = dir === undefined ? undefined : rel.slice(dir.length);
    if (inDist !== undefined && REGENERATED.test(inDist)) {
      if (/(^|\/)Packages(\.[a-z0-9]+)?$/.test(inDist) && !inDist.includes('by-hash/') && !read.has(rel)) s.notImported.push(`${rel}: a Packages index its Release does not list (not read)`);
      continue;
    }
    let why: string;
    if (inDist === 'InRelease' || inDist === 'Release.gpg') why = "the original signature (rcurepo signs the Release it writes with the repository's own key: see signKeys)";
    else if (inDist !== undefined && /(^|\/)source\/Sources/.test(inDist)) {
      if (sourcesNoted.has(rel)) continue;
      why = 'a source package index (source packages are not adopted)';
    } else if (inDist !== undefined && /(^|\/)(Contents-|i18n\/)/.test(inDist)) why = 'a Contents or Translation index (rcurepo does not publish them)';
    else if (inDist !== undefined) why = 'not an index rcurepo publishes';
    else if (rel.endsWith('.deb') || rel.endsWith('.udeb')) why = 'a package no adopted Packages index lists';
    else if (/\.(dsc|orig\.tar\.[a-z0-9]+|debian\.tar\.[a-z0-9]+|diff\.gz|tar\.[a-z0-9]+)$/.test(rel)) why = 'a source package file (source packages are not adopted)';
    else why = 'not part of the published indexes';
    s.notImported.push(`${rel}: ${why}`);
  }
}
