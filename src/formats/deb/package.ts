/**
 * A .deb as the repository sees it: its control paragraph (read without touching the payload), the
 * hashes a stanza lists, and where it goes in the tree. The result is the blob's cached metadata
 * (Format.place meta): stanzas are rendered from it, never from the package file again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RcuError } from '../../util/errors.js';
import { bufferSource, fileSource } from './ar.js';
import { parseBinaryControl, stanzaHead } from './control.js';
import { controlFromTar, DebReadError, readControlTar } from './control-tar.js';
import { versionForFileName } from './version.js';

/** Bump when DebMeta's content or stanzaHead's rendering changes: older cached metadata is recomputed. */
export const META_VERSION = 1;

export interface DebMeta {
  deb: number;
  package: string;
  version: string;
  architecture: string;
  source: string;
  sourceVersion?: string;
  /** The stanza's control part (verbatim paragraph without Status), ending with a newline. */
  head: string;
  /** Relationship fields for dependency resolution. */
  depends?: string;
  preDepends?: string;
  provides?: string;
  md5: string;
  sha1: string;
  sha256: string;
  size: number;
}

export function isDebMeta(m: unknown): m is DebMeta {
  return typeof m === 'object' && m !== null && (m as DebMeta).deb === META_VERSION && typeof (m as DebMeta).head === 'string';
}

export function badDeb(label: string, reason: string): RcuError {
  return new RcuError('BAD_INPUT', `${label}: ${reason}`, { data: { file: label, reason } });
}

function md5Of(src: Buffer | string): string {
  const h = createHash('md5');
  if (typeof src !== 'string') return h.update(src).digest('hex');
  const fd = fs.openSync(src, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Read and validate a .deb (bytes in memory, or a file path); throws BAD_INPUT naming `label`. */
export async function describeDeb(src: Buffer | string, label: string, hashes: { sha256: string; sha1: string; size: number }): Promise<DebMeta> {
  let control;
  let fd: number | undefined;
  try {
    if (typeof src === 'string') fd = fs.openSync(src, 'r');
    const bytes = fd === undefined ? bufferSource(src as Buffer) : fileSource(fd);
    control = controlFromTar((await readControlTar(bytes)).tar);
  } catch (e) {
    if (e instanceof DebReadError) throw badDeb(label, e.message);
    throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const c = parseBinaryControl(control);
  if (typeof c === 'string') throw badDeb(label, c);
  const get = (n: string) => c.fields.find((f) => f.name.toLowerCase() === n)?.value;
  const meta: DebMeta = {
    deb: META_VERSION,
    package: c.package,
    version: c.version,
    architecture: c.architecture,
    source: c.source,
    head: stanzaHead(c.fields),
    md5: md5Of(src),
    sha1: hashes.sha1,
    sha256: hashes.sha256,
    size: hashes.size,
  };
  if (c.sourceVersion !== undefined) meta.sourceVersion = c.sourceVersion;
  const depends = get('depends');
  const preDepends = get('pre-depends');
  const provides = get('provides');
  if (depends !== undefined) meta.depends = depends;
  if (preDepends !== undefined) meta.preDepends = preDepends;
  if (provides !== undefined) meta.provides = provides;
  return meta;
}

/** `lib` + fourth letter for lib* sources, else the first letter (Debian's pool layout). */
export function poolPrefix(source: string): string {
  return source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
}

/** The canonical file name: `<package>_<version without epoch>_<arch>.deb`. */
export function canonicalName(meta: Pick<DebMeta, 'package' | 'version' | 'architecture'>): string {
  const v = meta.version.includes(':') ? meta.version.slice(meta.version.indexOf(':') + 1) : meta.version;
  return `${meta.package}_${v}_${meta.architecture}.deb`;
}

export function treePathFor(component: string, meta: Pick<DebMeta, 'package' | 'version' | 'architecture' | 'source'>): string {
  const p = path.posix.join('pool', component, poolPrefix(meta.source), meta.source, canonicalName(meta));
  // Names and versions are validated, so this holds; checked anyway, the path is what a client fetches.
  if (!p.startsWith(`pool/${component}/`) || p.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new RcuError('BAD_INPUT', `${p}: escapes the pool`);
  return p;
}

/** Package identity from a tree path `pool/<component>/<prefix>/<source>/<pkg>_<ver>_<arch>.deb`. */
export interface DebPath {
  component: string;
  source: string;
  package: string;
  /** Version without epoch, as in the file name. */
  fileVersion: string;
  architecture: string;
}

export function parseDebPath(p: string): DebPath | undefined {
  let parsed = parsedPaths.get(p);
  if (parsed === undefined) {
    parsed = parseDebPathUncached(p) ?? null;
    if (parsedPaths.size >= PARSED_PATHS_MAX) parsedPaths.clear();
    parsedPaths.set(p, parsed);
  }
  return parsed ?? undefined;
}

/**
 * Every step of a publish (the change check, the index build, verification) and every lifecycle view
 * parses the same tree paths: at 10,000 packages that was ~40 ms of a one-package publish. Paths are
 * immutable facts, so their parse is kept for the process (bounded: cleared when it grows past the cap).
 */
const parsedPaths = new Map<string, DebPath | null>();
const PARSED_PATHS_MAX = 1 << 20;

function parseDebPathUncached(p: string): DebPath | undefined {
  // pool/<component>/<prefix>/<source>/<package>_<version>_<arch>.deb, by index rather than split():
  // every path of the tree passes here once per process, and a publish's process is short-lived.
  if (!p.startsWith('pool/') || !p.endsWith('.deb')) return undefined;
  const s1 = p.indexOf('/', 5);
  const s2 = s1 < 0 ? -1 : p.indexOf('/', s1 + 1);
  const s3 = s2 < 0 ? -1 : p.indexOf('/', s2 + 1);
  if (s3 < 0 || p.indexOf('/', s3 + 1) >= 0) return undefined;
  const u1 = p.indexOf('_', s3 + 1);
  const u2 = u1 < 0 ? -1 : p.indexOf('_', u1 + 1);
  if (u2 < 0 || p.indexOf('_', u2 + 1) >= 0) return undefined;
  return { component: p.slice(5, s1), source: p.slice(s2 + 1, s3), package: p.slice(s3 + 1, u1), fileVersion: p.slice(u1 + 1, u2), architecture: p.slice(u2 + 1, p.length - 4) };
}

export { versionForFileName };
