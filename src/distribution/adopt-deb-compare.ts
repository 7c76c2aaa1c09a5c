/**
 * After a deb adopt: the Packages indexes rcurepo regenerated, compared with the tree's original ones
 * package by package (keyed by package, version and architecture): packages missing on either side and,
 * for a package on both, every field whose value differs. Filename is left out (a package rcurepo
 * placed elsewhere is reported as moved), and so are the hash fields rcurepo does not write (SHA512):
 * the bytes were checked against SHA256 on the way in; those are counted in a note instead.
 * An original binary-all index (rcurepo writes none: `Architecture: all` packages are in every
 * architecture's index) is compared with the component's regenerated indexes together.
 */
import fs from 'node:fs';
import path from 'node:path';
import { binaryDirs, distDir, type DebSettings } from '../formats/deb/index.js';
import type { OriginalPackages } from './adopt-deb-survey.js';
import { decodeIndex, parseParagraph } from './sync-deb.js';

export interface DebComparison {
  differences: string[];
  notes: string[];
}

/** Fields not compared: placement (reported as moved) and hashes rcurepo does not list. */
const PLACEMENT = 'filename';
const NOT_WRITTEN = ['sha512'];

type Stanzas = Map<string, Map<string, string>>;

async function regenerated(snapshot: string, dir: string): Promise<Stanzas> {
  const out: Stanzas = new Map();
  const file = path.join(snapshot, dir, 'Packages.gz');
  const text = await decodeIndex(file, fs.readFileSync(file));
  for (const stanza of text.split(/\n\s*\n/)) {
    if (!stanza.trim()) continue;
    const f = parseParagraph(stanza);
    out.set(`${f.get('Package')} ${f.get('Version')} ${f.get('Architecture')}`, f);
  }
  return out;
}

const lower = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [k.toLowerCase(), { name: k, value: v }] as const));
const shown = (v: string | undefined) => (v === undefined ? '(absent)' : JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v));

/** The fields of one package that differ, as `Field: original X, regenerated Y`. */
function fieldDifferences(a: Map<string, string>, b: Map<string, string>, skipped: Map<string, number>): string[] {
  const x = lower(a);
  const y = lower(b);
  const out: string[] = [];
  for (const name of new Set([...x.keys(), ...y.keys()])) {
    if (name === PLACEMENT) continue;
    const va = x.get(name);
    const vb = y.get(name);
    if (NOT_WRITTEN.includes(name) && vb === undefined) {
      skipped.set(va!.name, (skipped.get(va!.name) ?? 0) + 1);
      continue;
    }
    if (va?.value !== vb?.value) out.push(`${va?.name ?? vb!.name}: original ${shown(va?.value)}, regenerated ${shown(vb?.value)}`);
  }
  return out;
}

export async function compareDebIndexes(originals: readonly OriginalPackages[], snapshot: string, settings: DebSettings): Promise<DebComparison> {
  const differences: string[] = [];
  const notes: string[] = [];
  const skipped = new Map<string, number>();
  const compare = (where: string, orig: Stanzas, mine: Stanzas) => {
    for (const [id, f] of orig) {
      const other = mine.get(id);
      if (!other) differences.push(`${where}: ${id}: in the original index, not in the regenerated one`);
      else {
        const d = fieldDifferences(f, other, skipped);
        if (d.length) differences.push(`${where}: ${id}: ${d.join('; ')}`);
      }
    }
    for (const id of mine.keys()) if (!orig.has(id)) differences.push(`${where}: ${id}: in the regenerated index, not in the original one`);
  };
  for (const dist of settings.dists) {
    const rel = distDir(dist, settings.flat);
    const byComponent = new Map<string, Stanzas>();
    for (const b of binaryDirs(dist, settings.flat)) {
      const mine = await regenerated(snapshot, path.posix.join(rel, b.rel));
      const orig = originals.find((o) => o.dist === dist.codename && o.component === b.component && (settings.flat || o.arch === b.arch));
      const where = settings.flat ? (rel || '.') : path.posix.join(rel, b.rel);
      if (!orig && mine.size) notes.push(`${where}: the original tree has no such index`);
      compare(where, orig?.stanzas ?? new Map(), mine);
      let union = byComponent.get(b.component);
      if (!union) byComponent.set(b.component, (union = new Map()));
      for (const [id, f] of mine) if (!union.has(id)) union.set(id, f);
    }
    for (const o of originals.filter((x) => x.dist === dist.codename && x.arch === 'all')) {
      notes.push(`${o.file}: rcurepo writes no binary-all index (Architecture: all packages are in every architecture's index); its packages were compared with those indexes`);
      const union = byComponent.get(o.component) ?? new Map();
      for (const [id, f] of o.stanzas) {
        const other = union.get(id);
        if (!other) differences.push(`${o.file}: ${id}: in the original index, in no regenerated index of ${o.component}`);
        else {
          const d = fieldDifferences(f, other, skipped);
          if (d.length) differences.push(`${o.file}: ${id}: ${d.join('; ')}`);
        }
      }
    }
  }
  for (const [field, n] of skipped) notes.push(`${field}: listed for ${n} package stanza(s) of the original indexes; rcurepo lists MD5sum, SHA1 and SHA256 (the adopted bytes were checked against SHA256)`);
  return { differences, notes };
}
