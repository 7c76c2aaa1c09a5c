/**
 * Debian's `.changes` upload manifest, as dpkg-genchanges (dpkg-buildpackage, sbuild, debuild) writes it:
 * a deb822 paragraph, usually clearsigned, naming every uploaded file in `Checksums-Sha256` (and `Files`
 * with md5, section and priority) with its size, and the `Distribution` it is for. It names no
 * repository: the caller's does (import REPO, watch --repo). Its signature is checked when the repository
 * has an uploadKeyring (import-pipeline.ts).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { ManifestKind, UploadManifest } from './manifest-kinds.js';
import { readSignedParagraph } from '../formats/deb/clearsigned.js';
import { field } from '../formats/deb/control.js';
import { RcuError } from '../util/errors.js';

export const CHANGES_SUFFIX = '.changes';
const MAX_CHANGES_BYTES = 4 << 20;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9+.~_-]*$/;

/** ` <hash> <size> ... <name>` lines of a file list: name -> { hash, size }. */
function fileList(value: string, fieldName: string, hexLength: number, bad: (m: string) => RcuError): Map<string, { hash: string; size: number }> {
  const out = new Map<string, { hash: string; size: number }>();
  for (const line of value.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    const w = t.split(/\s+/);
    const hash = w[0]!;
    const size = w[1] ?? '';
    const name = w[w.length - 1]!;
    if (w.length < 3 || hash.length !== hexLength || !/^[0-9a-fA-F]+$/.test(hash) || !/^[0-9]+$/.test(size)) throw bad(`${fieldName}: malformed line '${t}'`);
    if (!FILE_NAME.test(name) || name.includes('..')) throw bad(`${fieldName}: '${name}' is not a plain file name`);
    if (out.has(name)) throw bad(`${fieldName}: '${name}' is listed twice`);
    out.set(name, { hash: hash.toLowerCase(), size: Number(size) });
  }
  return out;
}

async function readChanges(file: string): Promise<UploadManifest> {
  const bad = (m: string) => new RcuError('BAD_INPUT', `${file}: ${m}`);
  const st = await fsp.stat(file);
  if (st.size > MAX_CHANGES_BYTES) throw bad(`${st.size} bytes, more than a .changes can be`);
  const un = readSignedParagraph(await fsp.readFile(file), '.changes');
  if (typeof un === 'string') throw bad(un);
  const { fields } = un;
  const dist = field(fields, 'Distribution');
  if (!dist) throw bad('missing Distribution field');
  const sha256Value = field(fields, 'Checksums-Sha256');
  if (sha256Value === undefined) throw bad('missing Checksums-Sha256 field (dpkg-genchanges writes it; the files cannot be checked without it)');
  const sums = fileList(sha256Value, 'Checksums-Sha256', 64, bad);
  if (sums.size === 0) throw bad('Checksums-Sha256 lists no files');
  const filesValue = field(fields, 'Files');
  if (filesValue !== undefined) {
    const md5s = fileList(filesValue, 'Files', 32, bad);
    for (const [name, e] of md5s) {
      const s = sums.get(name);
      if (!s) throw bad(`'${name}' is in Files but not in Checksums-Sha256`);
      if (s.size !== e.size) throw bad(`'${name}' is ${e.size} bytes in Files but ${s.size} in Checksums-Sha256`);
    }
    for (const name of sums.keys()) if (!md5s.has(name)) throw bad(`'${name}' is in Checksums-Sha256 but not in Files`);
  }
  // Checked with the upload, not published: .buildinfo files record how the packages were built, and
  // .ddeb files are debug symbols, which Debian and Ubuntu serve from a separate archive (dbgsym), not
  // from the one the binaries' users list (dpkg-buildpackage puts them into every .changes by default).
  const files = [...sums].map(([name, s]) => ({ path: name, sha256: s.hash, size: s.size, ...(NOT_PUBLISHED.test(name) ? { publish: false as const } : {}) }));
  const dists = dist.split(/\s+/).filter((d) => d !== '');
  // Identity: the distribution and every (name, sha256, size), independent of order, formatting and signature.
  const canon = JSON.stringify(['changes', dists, [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => [f.path, f.sha256, f.size])]);
  const key = createHash('sha256').update(canon).digest('hex');
  return { file, dir: path.dirname(file), files, dists, key, ...(un.signed ? { signedText: un.text } : {}) };
}

const NOT_PUBLISHED = /\.(buildinfo|ddeb)$/;

export const changesManifest: ManifestKind = { suffix: CHANGES_SUFFIX, read: readChanges };
