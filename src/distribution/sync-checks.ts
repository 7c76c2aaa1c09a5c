/**
 * The checks a mirrored tree must pass before it is published, by the upstream's own rules: rcurepo
 * reads the upstream's indexes and signatures and checks the files against them; it never rewrites them.
 *   files: every line of SHA256SUMS (and SHA256SUMS.gpg / .asc against the keyring, when one is set)
 *   eopkg: the index's .sha1sum / .sha256sum companions, the .xz and the plain index agree, and every
 *          package and delta the index names has its PackageSize and PackageHash (sha1)
 *   deb:   see sync-deb.ts
 * Hashes come from the pool (a blob's name is its sha256, its sha1 is cached): only files that arrived
 * in this sync were ever read.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TreeEntry } from '../formats/format.js';
import { HASHES_META, Pool } from '../engine/pool.js';
import type { Layout } from '../engine/layout.js';
import type { BlobHashes } from '../formats/format.js';
import { checkDebTree } from './sync-deb.js';
import { gpgv, unxz } from './sync-tools.js';

/** A staged or published mirror tree as the checks see it. */
export interface CheckedTree {
  dir: string;
  /** Every regular file by path (sha256 = its pool blob). */
  byPath: ReadonlyMap<string, TreeEntry>;
  /** sha1 of a file (from the pool's hash cache; read and hashed only when the cache is missing). */
  sha1(e: TreeEntry): string;
  /** The file's bytes (small index files). */
  read(rel: string): Buffer;
}

export function checkedTree(layout: Layout, dir: string, entries: readonly TreeEntry[]): CheckedTree {
  const pool = new Pool(layout);
  const byPath = new Map(entries.map((e) => [e.path, e] as const));
  return {
    dir,
    byPath,
    sha1(e) {
      const cached = pool.readMetaSync<BlobHashes>(e.sha256, HASHES_META);
      if (cached?.sha1) return cached.sha1;
      return createHash('sha1').update(fs.readFileSync(path.join(dir, e.path))).digest('hex');
    },
    read: (rel) => fs.readFileSync(path.join(dir, rel)),
  };
}

export interface CheckOptions {
  format: string;
  /** OpenPGP keyring the upstream's signatures must verify against. */
  keyring?: string;
}

/** Faults of a tree (empty = publishable). An empty tree passes: a mirror that was never synced. */
export async function checkMirrorTree(t: CheckedTree, opts: CheckOptions): Promise<string[]> {
  if (t.byPath.size === 0) return [];
  switch (opts.format) {
    case 'files':
      return checkFilesTree(t, opts.keyring);
    case 'eopkg':
      return checkEopkgTree(t);
    case 'deb':
      return checkDebTree(t, opts.keyring);
    default:
      return [`format '${opts.format}' has no upstream checks`];
  }
}

/** Files whose content the cheap probe compares (a marker, or index checksums that change with the tree). */
export function probeFiles(format: string): string[] {
  switch (format) {
    case 'files':
      return ['lastupdate', 'SHA256SUMS', 'SHA256SUMS.gpg', 'SHA256SUMS.asc'];
    case 'eopkg':
      return ['lastupdate', 'eopkg-index.xml.xz.sha1sum', 'eopkg-index.xml.sha1sum'];
    case 'deb':
      return ['lastupdate', 'InRelease', 'Release', 'dists/*/InRelease', 'dists/*/Release'];
    default:
      return ['lastupdate'];
  }
}

const SUMS = 'SHA256SUMS';

/** `HASH  NAME` / `HASH *NAME`, coreutils' escaped form `\HASH  NAME` (\\ and \n in NAME), and `SHA256 (NAME) = HASH`. */
export function parseSumsLine(line: string): { sha256: string; path: string } | undefined {
  const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line); // `sha256sum --tag` / BSD form
  if (bsd) return { sha256: bsd[2]!.toLowerCase(), path: bsd[1]!.replace(/^\.\//, '') };
  const m = /^(\\?)([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
  if (!m) return undefined;
  let name = m[3]!;
  if (m[1]) name = name.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
  return { sha256: m[2]!.toLowerCase(), path: name.replace(/^\.\//, '') };
}

async function checkFilesTree(t: CheckedTree, keyring: string | undefined): Promise<string[]> {
  if (!t.byPath.has(SUMS)) return [`${SUMS} is missing: the upstream is not a 'files' tree (or it is being rewritten)`];
  const faults: string[] = [];
  const lines = t.read(SUMS).toString('utf8').split('\n');
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const p = parseSumsLine(line);
    if (!p) {
      faults.push(`${SUMS} line ${i + 1}: not a 'HASH  NAME' line`);
      continue;
    }
    n++;
    const e = t.byPath.get(p.path);
    if (!e) faults.push(`${p.path}: listed in ${SUMS} but missing`);
    else if (e.sha256 !== p.sha256) faults.push(`${p.path}: sha256 ${e.sha256}, ${SUMS} says ${p.sha256}`);
  }
  if (n === 0 && t.byPath.size > 1) faults.push(`${SUMS} lists no file`);
  if (keyring) {
    const sig = ['SHA256SUMS.gpg', 'SHA256SUMS.asc'].find((s) => t.byPath.has(s));
    if (!sig) faults.push(`${SUMS} is not signed (no SHA256SUMS.gpg or SHA256SUMS.asc) but a keyring is configured`);
    else {
      const bad = await gpgvDetached(keyring, path.join(t.dir, sig), path.join(t.dir, SUMS));
      if (bad) faults.push(`${sig}: ${bad}`);
    }
  }
  return faults;
}

const gpgvDetached = (keyring: string, sig: string, data: string) => gpgv(keyring, [sig, data]);

const INDEX = 'eopkg-index.xml';

async function checkEopkgTree(t: CheckedTree): Promise<string[]> {
  const faults: string[] = [];
  const xz = t.byPath.get(`${INDEX}.xz`);
  if (!xz) return [`${INDEX}.xz is missing: the upstream is not an eopkg repository (or it is being rewritten)`];
  // Companions: the 40 (or 64) hex characters of the file they name.
  for (const name of [INDEX, `${INDEX}.xz`]) {
    const target = t.byPath.get(name);
    for (const [ext, len] of [['sha1sum', 40], ['sha256sum', 64]] as const) {
      const comp = t.byPath.get(`${name}.${ext}`);
      if (!comp) {
        if (name === `${INDEX}.xz` && ext === 'sha1sum') faults.push(`${name}.sha1sum is missing (the client checks it first)`);
        continue;
      }
      if (!target) {
        faults.push(`${name}.${ext} names ${name}, which is missing`);
        continue;
      }
      const want = t.read(comp.path).toString('utf8').trim().slice(0, len).toLowerCase();
      const have = ext === 'sha1sum' ? t.sha1(target) : target.sha256;
      if (want !== have) faults.push(`${name}: ${ext === 'sha1sum' ? 'sha1' : 'sha256'} ${have}, ${name}.${ext} says ${want}`);
    }
  }
  let xml: string;
  try {
    xml = (await unxz(t.read(xz.path))).toString('utf8');
  } catch (e) {
    return [...faults, `${INDEX}.xz: cannot be decompressed (${(e as Error).message})`];
  }
  const plain = t.byPath.get(INDEX);
  if (plain && plain.sha256 !== createHash('sha256').update(xml).digest('hex')) faults.push(`${INDEX} and ${INDEX}.xz hold different indexes`);
  const refs = packageRefs(xml);
  if (refs.length === 0 && !/<PISI>/.test(xml)) faults.push(`${INDEX}.xz: not an eopkg index (no <PISI> root)`);
  for (const r of refs) {
    const e = t.byPath.get(r.uri);
    if (!e) faults.push(`${r.uri}: named by the index but missing`);
    else if (e.size !== r.size) faults.push(`${r.uri}: ${e.size} bytes, the index says ${r.size}`);
    else if (t.sha1(e) !== r.sha1) faults.push(`${r.uri}: sha1 ${t.sha1(e)}, the index says ${r.sha1}`);
    if (faults.length > 200) break;
  }
  return faults;
}

export interface PackageRef {
  uri: string;
  size: number;
  sha1: string;
}

/**
 * Every (PackageURI, PackageSize, PackageHash) of an eopkg index: one per Package and one per Delta.
 * Each triple sits inside its own element (a Delta's inside the Package's DeltaPackages), so the values
 * are collected per innermost <Package> or <Delta> element.
 */
export function packageRefs(xml: string): PackageRef[] {
  const out: PackageRef[] = [];
  const stack: Array<Partial<Record<'uri' | 'size' | 'hash', string>>> = [];
  const re = /<(\/?)(Package|Delta|PackageURI|PackageSize|PackageHash)(?:\s[^>]*)?>(?:([^<]*)<\/\2>)?/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const [, close, tag, text] = m;
    if (tag === 'Package' || tag === 'Delta') {
      if (!close) stack.push({});
      else {
        const v = stack.pop();
        if (v && (v.uri !== undefined || v.size !== undefined || v.hash !== undefined)) {
          out.push({ uri: unescapeXml(v.uri ?? ''), size: Number(v.size), sha1: (v.hash ?? '').trim().toLowerCase() });
        }
      }
    } else if (stack.length && text !== undefined && !close) {
      const top = stack[stack.length - 1]!;
      if (tag === 'PackageURI') top.uri = text.trim();
      else if (tag === 'PackageSize') top.size = text.trim();
      else top.hash = text;
    }
  }
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g, (_, n: string) =>
    n === 'lt' ? '<' : n === 'gt' ? '>' : n === 'amp' ? '&' : n === 'quot' ? '"' : n === 'apos' ? "'" : String.fromCodePoint(n[1] === 'x' ? parseInt(n.slice(2), 16) : Number(n.slice(1))),
  );
}
