/**
 * What an existing published tree (a ferryd repository folder, a plain release tree) holds, sorted into
 * what adopting it imports (packages, assets), the original index it is compared with afterwards, and
 * everything else, which is reported (never silently dropped).
 */
import fs from 'node:fs';
import path from 'node:path';
import { RcuError } from '../util/errors.js';
import type { SourceFile } from '../engine/importer.js';

export interface AdoptSurvey {
  source: string;
  format: string;
  /** Files to import, with their paths relative to the source. */
  files: SourceFile[];
  /** eopkg assets at the tree root (distribution.xml, components.xml, groups.xml) by kind. */
  assets: Partial<Record<'distribution' | 'components' | 'groups', string>>;
  /** The original index the regenerated one is compared with (absolute path), when the tree has one. */
  originalIndex?: string;
  /** Files neither imported nor compared (index companions, signatures, stray files). */
  notImported: string[];
}

const EOPKG_INDEX = 'eopkg-index.xml';
const ASSETS = { 'distribution.xml': 'distribution', 'components.xml': 'components', 'groups.xml': 'groups' } as const;

function walk(root: string, rel: string, out: string[], odd: string[]): void {
  for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) walk(root, r, out, odd);
    else if (d.isFile()) out.push(r);
    else odd.push(r);
  }
}

/** Every regular file of a tree to adopt (sorted, relative paths), and everything else found in it. */
export function walkTree(source: string): { all: string[]; odd: string[] } {
  const st = fs.statSync(source, { throwIfNoEntry: false });
  if (!st) throw new RcuError('BAD_INPUT', `${source}: no such folder`);
  if (!st.isDirectory()) throw new RcuError('BAD_INPUT', `${source}: not a folder (adopt takes a published repository tree)`);
  const all: string[] = [];
  const odd: string[] = [];
  walk(source, '', all, odd);
  all.sort();
  return { all, odd };
}

export function surveyTree(source: string, format: string): AdoptSurvey {
  const { all, odd } = walkTree(source);
  const s: AdoptSurvey = { source, format, files: [], assets: {}, notImported: odd.map((o) => `${o}: not a regular file`) };
  const abs = (r: string) => path.join(source, r);
  if (format === 'eopkg') {
    if (!all.includes(EOPKG_INDEX) && !all.includes(`${EOPKG_INDEX}.xz`)) {
      throw new RcuError('BAD_INPUT', `${source}: not an eopkg repository (no ${EOPKG_INDEX} or ${EOPKG_INDEX}.xz at its root)`);
    }
    s.originalIndex = abs(all.includes(EOPKG_INDEX) ? EOPKG_INDEX : `${EOPKG_INDEX}.xz`);
    for (const r of all) {
      if (r.endsWith('.eopkg')) s.files.push({ abs: abs(r), rel: r });
      else if (r in ASSETS) s.assets[ASSETS[r as keyof typeof ASSETS]] = abs(r);
      else if (!r.startsWith(EOPKG_INDEX)) s.notImported.push(`${r}: not a package`);
    }
    if (s.files.length === 0) throw new RcuError('BAD_INPUT', `${source}: no .eopkg package in the tree`);
  } else if (format === 'files') {
    if (all.includes('SHA256SUMS')) s.originalIndex = abs('SHA256SUMS');
    for (const r of all) {
      // The index is regenerated; its signatures cannot be (they are the upstream's): reported.
      if (r === 'SHA256SUMS') continue;
      if (r === 'SHA256SUMS.gpg' || r === 'SHA256SUMS.asc') s.notImported.push(`${r}: a signature of the original index (rcurepo regenerates SHA256SUMS)`);
      else s.files.push({ abs: abs(r), rel: r });
    }
    if (s.files.length === 0) throw new RcuError('BAD_INPUT', `${source}: no file to adopt`);
  } else {
    throw new RcuError('USAGE', `adopt supports the files, eopkg and deb formats, not '${format}'`);
  }
  return s;
}
