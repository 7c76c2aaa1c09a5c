/**
 * Checks of a mirrored Debian-style archive, read straight from its files (deb-format.md): each
 * top-level Release (InRelease's signed text when present) with its signature against the keyring, every
 * index it lists that the tree ships (size and hash), and every package the Packages indexes name
 * (Filename, Size, SHA256 / SHA1 / MD5sum). Indexes listed but not shipped are allowed (apt does too).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { TreeEntry } from '../formats/format.js';
import type { CheckedTree } from './sync-checks.js';
import { gpgv, unxz } from './sync-tools.js';

export interface ReleaseSum {
  hash: string;
  size: number;
  path: string;
}

const HASH_FIELDS = [
  ['SHA256', 'sha256'],
  ['SHA1', 'sha1'],
  ['MD5Sum', 'md5'],
] as const;
export type Algo = (typeof HASH_FIELDS)[number][1];

/** Fields of a deb822 paragraph (continuation lines joined with '\n'). */
export function parseParagraph(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (/^[ \t]/.test(line) && key) out.set(key, `${out.get(key)}\n${line.trim()}`);
    else {
      const m = /^([^:\s]+):\s*(.*)$/.exec(line);
      if (m) {
        key = m[1]!;
        out.set(key, m[2]!.trim());
      }
    }
  }
  return out;
}

/** The signed text of a clearsigned file (without checking the signature). */
export function clearsignedText(text: string): string | undefined {
  const m = /^-----BEGIN PGP SIGNED MESSAGE-----\n(?:[^\n]+\n)*\n([\s\S]*?)\n-----BEGIN PGP SIGNATURE-----/m.exec(text.replace(/\r\n/g, '\n'));
  return m ? m[1]!.replace(/^- /gm, '') + '\n' : undefined;
}

function hashOf(t: CheckedTree, e: TreeEntry, algo: Algo): string {
  if (algo === 'sha256') return e.sha256;
  if (algo === 'sha1') return t.sha1(e);
  return createHash('md5').update(t.read(e.path)).digest('hex');
}

/** The strongest checksum list of a Release paragraph. */
export function releaseSums(fields: Map<string, string>): { algo: Algo; sums: ReleaseSum[] } | undefined {
  for (const [field, algo] of HASH_FIELDS) {
    const v = fields.get(field);
    if (v === undefined) continue;
    const sums: ReleaseSum[] = [];
    for (const line of v.split('\n')) {
      const m = /^([0-9a-fA-F]+)\s+([0-9]+)\s+(\S+)$/.exec(line.trim());
      if (m) sums.push({ hash: m[1]!.toLowerCase(), size: Number(m[2]), path: m[3]! });
    }
    return { algo, sums };
  }
  return undefined;
}

async function signedRelease(t: CheckedTree, dir: string, keyring: string | undefined, faults: string[]): Promise<string | undefined> {
  const inRel = t.byPath.get(`${dir}InRelease`);
  const rel = t.byPath.get(`${dir}Release`);
  let text: string | undefined;
  if (inRel) {
    text = clearsignedText(t.read(inRel.path).toString('utf8'));
    if (text === undefined) {
      faults.push(`${inRel.path}: not a clearsigned file`);
      return undefined;
    }
    if (keyring) {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-gpgv-')), 'signed');
      try {
        const bad = await gpgv(keyring, ['--output', out, path.join(t.dir, inRel.path)]);
        if (bad) faults.push(`${inRel.path}: ${bad}`);
        else text = fs.readFileSync(out, 'utf8'); // what the signature covers, not what the armor shows
      } finally {
        fs.rmSync(path.dirname(out), { recursive: true, force: true });
      }
    }
    if (rel && t.read(rel.path).toString('utf8').trimEnd() !== text.trimEnd()) faults.push(`${rel.path} and ${inRel.path} differ`);
  } else if (rel) {
    text = t.read(rel.path).toString('utf8');
    const sig = t.byPath.get(`${dir}Release.gpg`);
    if (keyring) {
      if (!sig) faults.push(`${rel.path}: not signed (no InRelease, no Release.gpg) but a keyring is configured`);
      else {
        const bad = await gpgv(keyring, [path.join(t.dir, sig.path), path.join(t.dir, rel.path)]);
        if (bad) faults.push(`${sig.path}: ${bad}`);
      }
    }
  }
  return text;
}

/** An index's text from its bytes, by its name's compression suffix (none, .gz or .xz). */
export async function decodeIndex(name: string, b: Buffer): Promise<string> {
  if (name.endsWith('.gz')) return zlib.gunzipSync(b).toString('utf8');
  if (name.endsWith('.xz')) return (await unxz(b)).toString('utf8');
  return b.toString('utf8');
}

async function readIndex(t: CheckedTree, e: TreeEntry): Promise<string> {
  return decodeIndex(e.path, t.read(e.path));
}

export async function checkDebTree(t: CheckedTree, keyring: string | undefined): Promise<string[]> {
  const faults: string[] = [];
  // Top-level Release files: dists/<suite>/ or a flat repository's folder (those with checksum lists).
  const dirs = new Set<string>();
  for (const p of t.byPath.keys()) {
    const m = /^(.*?)(In)?Release$/.exec(p);
    if (m && (m[1] === '' || m[1]!.endsWith('/'))) dirs.add(m[1]!);
  }
  let releases = 0;
  for (const dir of [...dirs].sort()) {
    const plain = t.byPath.get(`${dir}Release`);
    // A component's Release file (dists/S/main/binary-amd64/Release) has no checksums and no signature.
    if (!t.byPath.has(`${dir}InRelease`) && plain && !releaseSums(parseParagraph(t.read(plain.path).toString('utf8').split(/\n\n/)[0]!))) continue;
    const text = await signedRelease(t, dir, keyring, faults);
    if (text === undefined) continue;
    const sums = releaseSums(parseParagraph(text.split(/\n\n/)[0]!));
    if (!sums) {
      if (/^dists\/[^/]+\/$/.test(dir) || dir === '') faults.push(`${dir}Release lists no checksums`);
      continue; // a component's Release file (no checksum lists)
    }
    releases++;
    const root = dir.includes('dists/') ? dir.slice(0, dir.lastIndexOf('dists/')) : '';
    const packagesIndexes = new Map<string, TreeEntry>();
    for (const s of sums.sums) {
      const e = t.byPath.get(dir + s.path);
      if (!e) continue;
      if (e.size !== s.size) faults.push(`${e.path}: ${e.size} bytes, Release says ${s.size}`);
      else if (hashOf(t, e, sums.algo) !== s.hash) faults.push(`${e.path}: ${sums.algo} differs from Release`);
      else {
        const m = /^(.*\/)?Packages(\.gz|\.xz)?$/.exec(s.path);
        const key = m ? dir + (m[1] ?? '') + 'Packages' : undefined;
        // One variant per index is enough (they hold the same stanzas): plain, else .gz, else .xz.
        if (key && (!packagesIndexes.has(key) || e.path.length < packagesIndexes.get(key)!.path.length)) packagesIndexes.set(key, e);
      }
    }
    for (const idx of packagesIndexes.values()) {
      let text: string;
      try {
        text = await readIndex(t, idx);
      } catch (err) {
        faults.push(`${idx.path}: cannot be read (${(err as Error).message})`);
        continue;
      }
      for (const stanza of text.split(/\n\s*\n/)) {
        if (!stanza.trim()) continue;
        const f = parseParagraph(stanza);
        const file = f.get('Filename');
        if (!file) {
          faults.push(`${idx.path}: a stanza without Filename (${f.get('Package') ?? '?'})`);
          continue;
        }
        const e = t.byPath.get(root + file.replace(/^\.\//, ''));
        if (!e) faults.push(`${root}${file}: named by ${idx.path} but missing`);
        else if (f.has('Size') && Number(f.get('Size')) !== e.size) faults.push(`${e.path}: ${e.size} bytes, ${idx.path} says ${f.get('Size')}`);
        else {
          const [field, algo] = f.has('SHA256') ? ['SHA256', 'sha256' as const] : f.has('SHA1') ? ['SHA1', 'sha1' as const] : ['MD5sum', 'md5' as const];
          const want = f.get(field)?.toLowerCase();
          if (!want) faults.push(`${e.path}: ${idx.path} gives no checksum`);
          else if (hashOf(t, e, algo) !== want) faults.push(`${e.path}: ${algo} differs from ${idx.path}`);
        }
        if (faults.length > 200) return faults;
      }
    }
  }
  if (releases === 0) faults.push('no Release or InRelease with checksums: the upstream is not a Debian-style archive (or it is being rewritten)');
  return faults;
}
