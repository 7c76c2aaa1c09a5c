/**
 * After an adopt: the index rcurepo regenerated against the tree's original one, package by package
 * (eopkg: each <Package> element keyed by its file name; files: each SHA256SUMS line). Every package
 * the original listed and rcurepo does not, or lists differently, is reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRefs, parseSumsLine } from './sync-checks.js';
import { unxz } from './sync-tools.js';

/** Top-level <Package> elements that describe a package file (the Obsoletes list has none of those). */
export function packageElements(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<(\/?)Package>/g;
  let depth = 0;
  let start = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (!m[1]) {
      if (depth++ === 0) start = m.index;
    } else if (--depth === 0) {
      const el = xml.slice(start, m.index + m[0].length);
      const uri = /<PackageURI>([^<]*)<\/PackageURI>/.exec(el.replace(/<DeltaPackages>[\s\S]*<\/DeltaPackages>/, ''));
      if (uri) out.set(path.posix.basename(uri[1]!.trim()), el);
    }
    if (depth < 0) depth = 0;
  }
  return out;
}

const normalise = (el: string) => el.split('\n').map((l) => l.trim()).filter(Boolean);

async function readIndexText(file: string): Promise<string> {
  const b = fs.readFileSync(file);
  return (file.endsWith('.xz') ? await unxz(b) : b).toString('utf8');
}

export async function compareEopkgIndexes(originalFile: string, regeneratedFile: string): Promise<string[]> {
  const orig = await readIndexText(originalFile);
  const mine = await readIndexText(regeneratedFile);
  const a = packageElements(orig);
  const b = packageElements(mine);
  const out: string[] = [];
  for (const [file, el] of a) {
    const other = b.get(file);
    if (!other) {
      out.push(`${file}: in the original index, not in the regenerated one`);
      continue;
    }
    const x = normalise(el);
    const y = normalise(other);
    const i = x.findIndex((l, k) => l !== y[k]);
    if (i >= 0 || x.length !== y.length) {
      const k = i >= 0 ? i : Math.min(x.length, y.length);
      out.push(`${file}: entry differs at line ${k + 1} of the element: original '${x[k] ?? '(end)'}', regenerated '${y[k] ?? '(end)'}'`);
    }
  }
  for (const file of b.keys()) if (!a.has(file)) out.push(`${file}: in the regenerated index, not in the original one`);
  const origRefs = packageRefs(orig).length;
  const mineRefs = packageRefs(mine).length;
  if (origRefs !== mineRefs) out.push(`the original index names ${origRefs} package and delta files, the regenerated one ${mineRefs}`);
  for (const part of ['Distribution', 'Component', 'Group'] as const) {
    const count = (x: string) => (x.match(new RegExp(`<${part}>`, 'g')) ?? []).length;
    if (count(orig) !== count(mine)) out.push(`<${part}> elements: ${count(orig)} in the original index, ${count(mine)} in the regenerated one`);
  }
  return out;
}

export function compareSums(originalFile: string, regeneratedFile: string): string[] {
  const read = (f: string) => {
    const m = new Map<string, string>();
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      const p = line ? parseSumsLine(line) : undefined;
      if (p) m.set(p.path, p.sha256);
    }
    return m;
  };
  const a = read(originalFile);
  const b = read(regeneratedFile);
  const out: string[] = [];
  for (const [p, h] of a) {
    const h2 = b.get(p);
    if (h2 === undefined) out.push(`${p}: in the original SHA256SUMS, not in the adopted tree`);
    else if (h2 !== h) out.push(`${p}: the original SHA256SUMS says ${h}, the file hashes to ${h2}`);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`${p}: not in the original SHA256SUMS (now listed)`);
  return out;
}
