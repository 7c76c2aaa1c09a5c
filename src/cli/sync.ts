/** Wiring of the mirror commands: `sync`. (Mirrors are created by `create-repo --upstream`.) */
import type { CommandDef } from './types.js';
import { bytes, intArg } from './context.js';
import type { SyncResult } from '../distribution/sync-run.js';
import { RcuError } from '../util/errors.js';

function describeSync(r: SyncResult): string {
  const counts = `${r.added} added, ${r.replaced} replaced, ${r.removed} removed`;
  const warn = r.warnings.map((w) => `\nwarning: ${w}`).join('');
  if (r.probe === 'unchanged') return `'${r.repo}' is up to date with ${r.upstream} (probe unchanged; generation ${r.parent})${warn}`;
  if (r.dryRun) {
    const lines = [`dry run: a sync of '${r.repo}' would change ${counts} against generation ${r.parent}`];
    for (const p of r.changes.added) lines.push(`  + ${p}`);
    for (const p of r.changes.replaced) lines.push(`  ~ ${p}`);
    for (const p of r.changes.removed) lines.push(`  - ${p}`);
    return lines.join('\n') + warn;
  }
  const recv = `received ${r.arrived} file(s), ${bytes(r.arrivedBytes)}${r.resumed ? `, ${r.resumed} kept from an earlier attempt` : ''}`;
  if (!r.published) return `'${r.repo}' is up to date with ${r.upstream} (${recv}; generation ${r.parent})${warn}`;
  return `published generation ${r.generation} of '${r.repo}' from ${r.upstream} (${counts}; ${recv}; ${r.files} files; ${r.seconds.toFixed(1)} s)${warn}`;
}

export const syncCommands: CommandDef[] = [
  {
    usage: 'sync [repo]',
    dryRun: true,
    describe: "Bring a mirror (create-repo --upstream) up to date: probe, rsync with --link-dest, check by the upstream's own indexes and signatures, publish.",
    options: [
      ['--all', 'Sync every mirror of the base (one failure does not stop the others)'],
      ['--full', 'Skip the probe of marker and index checksum files and compare file contents (rsync --checksum; reads every file)'],
      ['--bwlimit', 'Limit the transfer to this many KiB/s (rsync --bwlimit)'],
    ],
    booleans: ['all', 'full'],
    examples: ['sync solus-mirror', 'sync --all --json', 'sync releases --dry-run'],
    async run(ctx, [repo], opts) {
      const { syncOne, syncAll, syncAllError } = await import('../commands/sync.js');
      const common = {
        base: ctx.base(opts),
        dryRun: !!opts['dry-run'],
        full: !!opts.full,
        bwlimitKiB: opts.bwlimit === undefined ? undefined : intArg(opts.bwlimit, '--bwlimit'),
        waitSeconds: ctx.waitSeconds(opts),
        onWait: ctx.onWait,
        // Progress on a terminal only (rsync's own progress line, then the steps).
        progress: process.stderr.isTTY && !opts.json ? (t: string) => ctx.io.stderr(t) : undefined,
      };
      if (opts.all) {
        if (repo) throw new RcuError('USAGE', 'sync takes a repository name or --all, not both');
        const r = await syncAll(common);
        ctx.emit(opts, r, () => [...r.results.map(describeSync), ...r.failures.map((f) => `FAILED ${f.repo}: ${f.message}${f.details.map((d) => `\n  ${d}`).join('')}`)].join('\n') || 'no mirrors in this base');
        const err = syncAllError(r);
        if (err) throw err;
        return;
      }
      if (!repo) throw new RcuError('USAGE', 'sync needs a repository name (or --all)');
      const r = await syncOne({ ...common, repo });
      ctx.emit(opts, r, () => describeSync(r));
    },
  },
];
