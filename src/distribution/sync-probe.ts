/**
 * What a sync looks at before receiving anything: the probe (only the upstream's marker and index
 * checksum files, compared with the current snapshot's) and the dry run (rsync -n against the current
 * snapshot). Neither writes into the repository.
 */
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

/**
 * True when the upstream's probe files exist and equal the current snapshot's, byte for byte: one
 * `rsync -n -c` of just those files against the current snapshot (-n: nothing is written there; -c:
 * contents compared by checksum, only the checksums cross the wire; --delete: a probe file the
 * upstream dropped shows as a deletion). One connection, a file list of a few names.
 */
export async function probeUnchanged(up: Upstream, format: string, parentDir: string): Promise<boolean> {
  const r = await runRsync(up, ['-rtnc', '-ii', '--delete', '--out-format=%i|%n', ...probeFilters(probeFiles(format)), up.source, parentDir + '/']);
  checkRsyncStatus(up, r, 'probing');
  let files = 0;
  for (const line of r.stdout.split('\n')) {
    const m = /^(\*deleting|[<>ch.][fdLDS][^|]*?) *\|(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '*deleting') return false;
    if (m[1]![1] !== 'f') continue;
    files++;
    // '.f' = same content (attributes aside); '>f', 'cf', 'hf' = it would be transferred or made.
    if (m[1]![0] !== '.') return false;
  }
  return files > 0; // no probe file upstream: nothing to compare by, a full sync decides
}

/** `rsync -n -i` of the upstream against the current snapshot: what a sync would change; writes nothing. */
export async function dryRunDiff(up: Upstream, parentDir: string): Promise<{ added: string[]; replaced: string[]; removed: string[]; warnings: string[] }> {
  const r = await runRsync(up, ['-rtn', '--delete', '--out-format=%i|%n', up.source, parentDir + '/']);
  const warnings = checkRsyncStatus(up, r, 'comparing');
  const d = { added: [] as string[], replaced: [] as string[], removed: [] as string[], warnings };
  for (const line of r.stdout.split('\n')) {
    const m = /^(\*deleting|[<>ch.][fdLDS][^|]*?) *\|(.*)$/.exec(line);
    if (!m || m[2]!.endsWith('/')) continue;
    if (m[1] === '*deleting') d.removed.push(m[2]!);
    else if (m[1]![1] !== 'f') continue;
    else if (m[1]!.includes('+++')) d.added.push(m[2]!);
    else d.replaced.push(m[2]!);
  }
  return d;
}

