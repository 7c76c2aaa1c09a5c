/**
 * A Debian source package's description (.dsc): a deb822 paragraph, often clearsigned, naming the files
 * that make up the source (Files: md5, Checksums-Sha1, Checksums-Sha256 with sizes). The .dsc and every
 * file it lists go to `pool/<component>/<prefix>/<source>/`; the metadata cached with the .dsc blob is
 * what the Sources stanza is rendered from, and what source-level commands read (Source, Version).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RcuError } from '../../util/errors.js';
import { readSignedParagraph } from './clearsigned.js';
import { field, PACKAGE_NAME, type ControlField } from './control.js';
import { poolPrefix } from './package.js';
import { parseVersion, versionForFileName } from './version.js';

/** Bump when DscMeta's content changes: older cached metadata is recomputed. */
export const DSC_META_VERSION = 1;

/** A .dsc larger than this is not a source description (real ones are a few KiB). */
export const MAX_DSC_BYTES = 4 << 20;

export interface DscFile {
  name: string;
  size: number;
  md5: string;
  sha1?: string;
  sha256: string;
  sha512?: string;
}

export interface DscMeta {
  dsc: number;
  source: string;
  version: string;
  format: string;
  binary?: string;
  architecture?: string;
  /** The paragraph's fields (raw lines), Source and the file lists included, Status left out. */
  fields: Pick<ControlField, 'name' | 'raw'>[];
  /** The files the .dsc lists (not the .dsc itself). */
  files: DscFile[];
  /** The .dsc's own hashes. */
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  size: number;
}

export function isDscMeta(m: unknown): m is DscMeta {
  return typeof m === 'object' && m !== null && (m as DscMeta).dsc === DSC_META_VERSION && Array.isArray((m as DscMeta).files);
}

/** A name a .dsc may list: a plain file name starting with `<source>_`, as dpkg-source writes them. */
const LISTED_NAME = /^[A-Za-z0-9][A-Za-z0-9+.~_-]*$/;
const SOURCE_FORMAT = /^[0-9]+\.[0-9]+( \([a-z0-9]+\))?$/;

export function badDsc(label: string, reason: string): RcuError {
  return new RcuError('BAD_INPUT', `${label}: ${reason}`, { data: { file: label, reason } });
}

/** One checksum list (` <hash> <size> <name>` lines) keyed by name; a string is the reason it is malformed. */
function checksumList(value: string, fieldName: string, hexLength: number): Map<string, { hash: string; size: number }> | string {
  const out = new Map<string, { hash: string; size: number }>();
  for (const line of value.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    const m = /^([0-9a-fA-F]+)\s+([0-9]+)\s+(\S+)$/.exec(t);
    if (!m || m[1]!.length !== hexLength) return `${fieldName}: malformed line '${t}' (expected '<hash> <size> <name>')`;
    if (out.has(m[3]!)) return `${fieldName}: '${m[3]}' is listed twice`;
    out.set(m[3]!, { hash: m[1]!.toLowerCase(), size: Number(m[2]) });
  }
  if (out.size === 0) return `${fieldName}: lists no files`;
  return out;
}

/** Validate a .dsc's bytes; throws BAD_INPUT naming `label`. */
export function describeDsc(bytes: Buffer, label: string, hashes: { sha256: string; sha1: string; size: number }): DscMeta {
  const bad = (reason: string) => badDsc(label, reason);
  if (bytes.length > MAX_DSC_BYTES) throw bad(`${bytes.length} bytes, more than a source description can be`);
  const read = readSignedParagraph(bytes, '.dsc');
  if (typeof read === 'string') throw bad(read);
  const { fields } = read;
  const get = (n: string) => field(fields, n);
  const source = get('Source');
  const version = get('Version');
  const format = get('Format');
  if (!format) throw bad('missing Format field');
  if (!SOURCE_FORMAT.test(format)) throw bad(`Format '${format}' is not a source format (e.g. '3.0 (quilt)', '3.0 (native)', '1.0')`);
  if (!source) throw bad('missing Source field');
  if (!PACKAGE_NAME.test(source)) throw bad(`Source '${source}' is not a valid source package name (lowercase letters, digits, + - ., at least 2 characters)`);
  if (!version) throw bad('missing Version field');
  const pv = parseVersion(version);
  if (typeof pv === 'string') throw bad(`Version '${version}' is not Debian version syntax: ${pv}`);
  const filesValue = get('Files');
  const sha256Value = get('Checksums-Sha256');
  if (filesValue === undefined) throw bad('missing Files field');
  if (sha256Value === undefined) throw bad('missing Checksums-Sha256 field (dpkg-source writes it; the files cannot be checked without it)');
  const md5s = checksumList(filesValue, 'Files', 32);
  if (typeof md5s === 'string') throw bad(md5s);
  const sha256s = checksumList(sha256Value, 'Checksums-Sha256', 64);
  if (typeof sha256s === 'string') throw bad(sha256s);
  const sha1Value = get('Checksums-Sha1');
  const sha512Value = get('Checksums-Sha512');
  const sha1s = sha1Value === undefined ? undefined : checksumList(sha1Value, 'Checksums-Sha1', 40);
  const sha512s = sha512Value === undefined ? undefined : checksumList(sha512Value, 'Checksums-Sha512', 128);
  if (typeof sha1s === 'string') throw bad(sha1s);
  if (typeof sha512s === 'string') throw bad(sha512s);
  const files: DscFile[] = [];
  for (const [name, md5] of md5s) {
    if (!LISTED_NAME.test(name) || name.includes('..')) throw bad(`listed file '${name}' is not a plain file name`);
    if (!name.startsWith(`${source}_`)) throw bad(`listed file '${name}' is not named after the source ('${source}_...')`);
    if (name.endsWith('.dsc') || name.endsWith('.deb')) throw bad(`listed file '${name}' is a package description, not part of a source`);
    const s256 = sha256s.get(name);
    if (!s256) throw bad(`'${name}' is in Files but not in Checksums-Sha256`);
    const s1 = sha1s?.get(name);
    const s512 = sha512s?.get(name);
    if (sha1s && !s1) throw bad(`'${name}' is in Files but not in Checksums-Sha1`);
    if (sha512s && !s512) throw bad(`'${name}' is in Files but not in Checksums-Sha512`);
    for (const [list, e] of [['Checksums-Sha256', s256], ['Checksums-Sha1', s1], ['Checksums-Sha512', s512]] as const) {
      if (e && e.size !== md5.size) throw bad(`'${name}' is ${md5.size} bytes in Files but ${e.size} in ${list}`);
    }
    files.push({ name, size: md5.size, md5: md5.hash, sha256: s256.hash, ...(s1 ? { sha1: s1.hash } : {}), ...(s512 ? { sha512: s512.hash } : {}) });
  }
  for (const [list, m] of [['Checksums-Sha256', sha256s], ['Checksums-Sha1', sha1s], ['Checksums-Sha512', sha512s]] as const) {
    for (const name of m?.keys() ?? []) if (!md5s.has(name)) throw bad(`'${name}' is in ${list} but not in Files`);
  }
  const meta: DscMeta = {
    dsc: DSC_META_VERSION,
    source,
    version,
    format,
    fields: fields.filter((f) => f.name.toLowerCase() !== 'status').map((f) => ({ name: f.name, raw: f.raw })),
    files,
    md5: createHash('md5').update(bytes).digest('hex'),
    sha1: hashes.sha1,
    sha256: hashes.sha256,
    sha512: createHash('sha512').update(bytes).digest('hex'),
    size: hashes.size,
  };
  const binary = get('Binary');
  const architecture = get('Architecture');
  if (binary !== undefined) meta.binary = binary.replace(/\s+/g, ' ').trim();
  if (architecture !== undefined) meta.architecture = architecture;
  return meta;
}

/**
 * The metadata of a file a .dsc lists (cached with its blob, computed when it is staged): every hash a
 * Sources stanza lists, whichever the .dsc itself states (apt-ftparchive lists all four too).
 */
export interface ListedFileMeta {
  listed: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  size: number;
}

export const LISTED_META_VERSION = 1;

export function isListedMeta(m: unknown): m is ListedFileMeta {
  return typeof m === 'object' && m !== null && (m as ListedFileMeta).listed === LISTED_META_VERSION && typeof (m as ListedFileMeta).sha512 === 'string';
}

export async function describeListedFile(blobPath: string, hashes: { sha256: string; sha1: string; size: number }): Promise<ListedFileMeta> {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  for await (const chunk of fs.createReadStream(blobPath, { highWaterMark: 1 << 20 })) {
    md5.update(chunk as Buffer);
    sha512.update(chunk as Buffer);
  }
  return { listed: LISTED_META_VERSION, md5: md5.digest('hex'), sha1: hashes.sha1, sha256: hashes.sha256, sha512: sha512.digest('hex'), size: hashes.size };
}

/** The folder of a source package in the pool: `pool/<component>/<prefix>/<source>`. */
export function sourceDir(component: string, source: string): string {
  const d = path.posix.join('pool', component, poolPrefix(source), source);
  // Names are validated, so this holds; checked anyway, the path is what a client fetches.
  if (!d.startsWith(`pool/${component}/`) || d.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new RcuError('BAD_INPUT', `${d}: escapes the pool`);
  return d;
}

/** The .dsc's canonical name: `<source>_<version without epoch>.dsc`. */
export function dscName(meta: Pick<DscMeta, 'source' | 'version'>): string {
  const pv = parseVersion(meta.version);
  return `${meta.source}_${typeof pv === 'string' ? meta.version : versionForFileName(pv)}.dsc`;
}

/** Source identity from a tree path `pool/<component>/<prefix>/<source>/<source>_<version>.dsc`. */
export interface DscPath {
  component: string;
  source: string;
  /** Version without epoch, as in the file name. */
  fileVersion: string;
}

export function parseDscPath(p: string): DscPath | undefined {
  // Called for every tree path (most are .deb files): refuse those before splitting anything.
  if (!p.endsWith('.dsc') || !p.startsWith('pool/')) return undefined;
  const parts = p.split('/');
  if (parts.length !== 5 || parts[0] !== 'pool' || !parts[4]!.endsWith('.dsc')) return undefined;
  const source = parts[3]!;
  const base = parts[4]!.slice(0, -4);
  if (!base.startsWith(source + '_')) return undefined;
  return { component: parts[1]!, source, fileVersion: base.slice(source.length + 1) };
}
