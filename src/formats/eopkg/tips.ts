/**
 * The one tip rule of eopkg repositories, and the identity of a build. Every command that shows, lists
 * or copies "the tip" of a package name (the index, `list`, `clone`, `pull`, `promote`) decides with
 * `newerBuild`, so they cannot disagree. For eopkg the release number is a build's identity: one name
 * has at most one build per release (imports refuse a second, different one unless --replace); the
 * tie-breaks below only order repositories made before that rule.
 */
import path from 'node:path';
import { compareBytewise } from '../../util/paths.js';
import { parseFileName } from './filename.js';

export interface BuildRef {
  release: number;
  /** Tree path of the package file. */
  path: string;
}

/** Is `a` a newer build of its name than `b`? Higher release; then the bytewise greater file name, then path. */
export function newerBuild(a: BuildRef, b: BuildRef): boolean {
  if (a.release !== b.release) return a.release > b.release;
  const byName = compareBytewise(path.posix.basename(a.path), path.posix.basename(b.path));
  if (byName !== 0) return byName > 0;
  return compareBytewise(a.path, b.path) > 0;
}

/** `name@release` of a (non-delta) package path, undefined for anything else (deltas, assets). */
export function buildIdentity(treePath: string): string | undefined {
  const fn = parseFileName(path.posix.basename(treePath));
  if (!fn || fn.kind === 'delta') return undefined;
  return `${fn.name}@${Number(fn.release)}`;
}
