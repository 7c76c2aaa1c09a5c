/** Read an .eopkg (or .delta.eopkg) and derive everything the index needs, validating it on the way. */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { RcuError } from '../../util/errors.js';
import { buildFragment } from './fragment.js';
import { parseFileName } from './filename.js';
import type { PackageIdentity } from './metadata.js';
import { METADATA_CAP, MetadataError, RELEASE_RE, parseMetadata } from './metadata.js';
import { treePathFor } from './placement.js';
import { ZipError, readZipMembers } from './zip.js';

export const META_VERSION = 1;

/** Cached per-blob metadata (JSON). Index writing uses only this, never the package bytes. */
export interface EopkgMeta extends PackageIdentity {
  v: typeof META_VERSION;
  /** File basename the metadata was validated against. */
  basename: string;
  treePath: string;
  isDelta: boolean;
  /** Delta packages only: releases from the file name (toRelease = release). */
  fromRelease?: number;
  toRelease?: number;
  sha1: string;
  size: number;
  /** Serialised <Package> up to InstalledSize, and from there to </Package> (see fragment.ts). */
  head: string;
  tail: string;
  /** sha1 of head + tail: identifies the fragment in index block cache keys without hashing its text. */
  fragHash: string;
}

export function isEopkgMeta(m: unknown): m is EopkgMeta {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  return o.v === META_VERSION && typeof o.name === 'string' && typeof o.head === 'string' && typeof o.tail === 'string' && typeof o.fragHash === 'string' && typeof o.release === 'number' && typeof o.sha1 === 'string';
}

function bad(label: string, reason: string): RcuError {
  return new RcuError('BAD_INPUT', `${label}: ${reason}`, { data: { file: label, reason } });
}

/** The basename of a repository-relative path; refuses '..', empty and absolute paths. */
export function safeBasename(relPath: string, label: string): string {
  const segs = relPath.split(/[\\/]/);
  if (relPath.startsWith('/') || segs.some((s) => s === '..')) throw bad(label, `path '${relPath}' contains '..' or is absolute`);
  const base = segs[segs.length - 1] ?? '';
  if (base === '' || base === '.') throw bad(label, `path '${relPath}' has no file name`);
  return base;
}

export interface Hashes {
  sha1: string;
  size: number;
}

/**
 * Validate a package file and compute its metadata. `label` names the file in messages; `basename` is the
 * repository file name the metadata must agree with.
 */
export async function describePackage(filePath: string | Buffer, basename: string, label: string, hashes: Hashes): Promise<EopkgMeta> {
  const fn = parseFileName(basename);
  if (!fn) throw bad(label, `file name '${basename}' is not NAME-VERSION-RELEASE-DISTREL-ARCH.eopkg or NAME-FROM-TO-DISTREL-ARCH.delta.eopkg`);
  let zip;
  try {
    zip = await readZipMembers(filePath, ['metadata.xml'], METADATA_CAP);
  } catch (e) {
    if (e instanceof ZipError) throw bad(label, e.message);
    throw e;
  }
  const names = new Set(zip.members.map((m) => m.name));
  const xml = zip.data.get('metadata.xml');
  if (!xml) throw bad(label, 'no metadata.xml member (not an eopkg package)');
  if (!names.has('files.xml')) throw bad(label, 'no files.xml member');
  if (fn.kind === 'package' && !names.has('install.tar.xz')) throw bad(label, 'no install.tar.xz member');
  let md;
  try {
    md = parseMetadata(xml);
  } catch (e) {
    if (e instanceof MetadataError) throw bad(label, e.message.startsWith('metadata.xml') ? e.message : `metadata.xml: ${e.message}`);
    throw e;
  }
  const disagree = (field: string, inMeta: string, inName: string): void => {
    if (inMeta !== inName) throw bad(label, `${field} in metadata.xml ('${inMeta}') disagrees with the file name ('${inName}')`);
  };
  disagree('name', md.name, fn.name);
  disagree('distribution release', md.distrel, fn.distrel);
  disagree('architecture', md.arch, fn.arch);
  let fromRelease: number | undefined;
  let toRelease: number | undefined;
  if (fn.kind === 'package') {
    disagree('version', md.version, fn.version);
    disagree('release', String(md.release), fn.release);
  } else {
    if (!RELEASE_RE.test(fn.fromRelease) || !RELEASE_RE.test(fn.toRelease)) throw bad(label, `delta releases '${fn.fromRelease}'/'${fn.toRelease}' are not numbers`);
    disagree('release (delta target)', String(md.release), fn.toRelease);
    fromRelease = Number(fn.fromRelease);
    toRelease = Number(fn.toRelease);
    if (fromRelease >= toRelease) throw bad(label, `delta from release ${fromRelease} is not older than target release ${toRelease}`);
  }
  const { head, tail } = buildFragment(md.pkg);
  if (!/<Summary[ >]/.test(head + tail)) throw bad(label, 'metadata.xml: Package has no non-empty Summary');
  const meta: EopkgMeta = {
    v: META_VERSION,
    basename,
    treePath: treePathFor(md.source, basename),
    name: md.name,
    version: md.version,
    release: md.release,
    distrel: md.distrel,
    arch: md.arch,
    source: md.source,
    isDelta: fn.kind === 'delta',
    sha1: hashes.sha1,
    size: hashes.size,
    head,
    tail,
    fragHash: createHash('sha1').update(head).update(tail).digest('hex'),
  };
  if (fromRelease !== undefined) {
    meta.fromRelease = fromRelease;
    meta.toRelease = toRelease;
  }
  return meta;
}

export function labelFor(source: string, relPath: string): string {
  if (source === relPath || source.endsWith('/' + relPath) || path.basename(source) === relPath) return source;
  return path.join(source, relPath);
}
