/**
 * What a sync looks at before receiving anything: the probe (only the upstream's marker and index
 * checksum files, compared with the current snapshot's) and the dry run (rsync -n against the current
 * snapshot). Neither writes into the repository.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { removePath } from '../util/fsx.js';
import { probeFiles } from './sync-checks.js';
import { checkRsyncStatus, runRsync } from './sync-upstream.js';
import type { Upstream } from './sync-upstream.js';

/** rsync filter rules fetching only the probe files (their folders are entered, nothing else). */
function probeFilters(patterns: string[]): string[] {
  const rules = new Set<string>();
  for (const p of patterns) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) rules.add(`--include=/${parts.slice(0, i).join('/')}/`);
    rules.add(`--include=/${p}`);
  }
  return [...rules, '--exclude=*'];
}

/** Files under `root` matching a probe pattern ('*' stands for one whole path component). */
function expandIn(root: string, pattern: string): string[] {
  let found = [''];
  for (const part of pattern.split('/')) {
    const next: string[] = [];
    for (const dir of found) {
      if (part !== '*') next.push(dir ? `${dir}/${part}` : part);
      else for (const n of safeReaddir(path.join(root, dir))) next.push(dir ? `${dir}/${n}` : n);
    }
    found = next;
  }
  return found.filter((rel) => fs.statSync(path.join(root, rel), { throwIfNoEntry: false })?.isFile());
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** True when the upstream's probe files exist and equal the current snapshot's, byte for byte. */
export async function probeUnchanged(up: Upstream, format: string, parentDir: string, probeDir: string): Promise<boolean> {
  const patterns = probeFiles(format);
  await removePath(probeDir);
  await fsp.mkdir(probeDir, { recursive: true });
  try {
    const r = await runRsync(up, ['-rt', ...probeFilters(patterns), up.source, probeDir + '/']);
    checkRsyncStatus(up, r, 'probing');
    const got: string[] = [];
    const walk = (rel: string) => {
      for (const d of fs.readdirSync(path.join(probeDir, rel), { withFileTypes: true })) {
        const r2 = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) walk(r2);
        else if (d.isFile()) got.push(r2);
      }
    };
    walk('');
    if (got.length === 0) return false; // nothing to compare by: a full sync decides
    // The same files in the current snapshot (found without reading its manifest: this path must stay cheap).
    const had = patterns.flatMap((pat) => expandIn(parentDir, pat));
    if (had.length !== got.length || !had.every((h) => got.includes(h))) return false;
    return got.every((rel) => fs.readFileSync(path.join(probeDir, rel)).equals(fs.readFileSync(path.join(parentDir, rel))));
  } finally {
    await removePath(probeDir);
  }
}

/** `rsync -n -i` of the upstream against the current snapshot: what a sync would change; writes nothing. */
export async function dryRunDiff(up: Upstream, parentDir: string): Promise<{ added: string[]; replaced: string[]; removed: string[]; warnings: string[] }> {
  const r = await runRsync(up, ['-rtn', '--delete', '--out-format=%i|%n', up.source, parentDir + '/']);
  const warnings = checkRsyncStatus(up, r, 'comparing');
  const d = { added: [] as string[], replaced: [] as string[], removed: [] as string[], warnings };
  for (const line of r.stdout.split('\n')) {
    const m = /^(\*deleting|[<>ch.][fdLDS][^|]*)\|(.*)$/.exec(line);
    if (!m || m[2]!.endsWith('/')) continue;
    if (m[1] === '*deleting') d.removed.push(m[2]!);
    else if (m[1]![1] !== 'f') continue;
    else if (m[1]!.includes('+++')) d.added.push(m[2]!);
    else d.replaced.push(m[2]!);
  }
  return d;
}

