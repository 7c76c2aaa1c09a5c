/** Wiring of the eopkg-specific commands. */
import type { CommandDef } from './types.js';
import { describeTx } from './core.js';
import { bytes, intArg } from './context.js';

export const eopkgCommands: CommandDef[] = [
  {
    usage: 'set-assets <repo>',
    dryRun: true,
    describe: 'Validate and publish eopkg repository assets (distribution.xml, components.xml, groups.xml) with a regenerated index.',
    options: [
      ['--distribution', 'distribution.xml (SourceName, Version, Obsoletes...)'],
      ['--components', 'components.xml'],
      ['--groups', 'groups.xml'],
    ],
    examples: ['set-assets unstable --distribution distribution.xml --components components.xml --groups groups.xml'],
    async run(ctx, [repo], opts) {
      const { setAssets } = await import('../commands/set-assets.js');
      const s = (k: string) => (opts[k] === undefined ? undefined : String(opts[k]));
      const r = await setAssets({
        base: ctx.base(opts),
        repo: repo!,
        files: { distribution: s('distribution'), components: s('components'), groups: s('groups') },
        dryRun: !!opts['dry-run'],
        waitSeconds: ctx.waitSeconds(opts),
        onWait: ctx.onWait,
      });
      ctx.emit(opts, r, () => describeTx(r, 'asset change'));
    },
  },
  {
    usage: 'deltas <repo>',
    dryRun: true,
    describe: 'Make the delta packages each tip lacks (from the newest N older builds kept) and publish them in one transaction.',
    options: [
      ['--from', 'How many older builds of each name get a delta into its tip (default 3)'],
      ['--background', 'Started after a publish (setting deltasAfterPublish): one run at a time, on current, no messages (see meta/deltas.log)'],
    ],
    booleans: ['background'],
    examples: ['deltas unstable', 'deltas unstable nano gimp --from 1', 'deltas unstable --dry-run --json'],
    async run(ctx, [repo], opts) {
      if (opts.background) {
        const { runDeltasAfterPublish } = await import('../commands/deltas/background.js');
        await runDeltasAfterPublish({ base: ctx.base(opts), repo: repo! });
        return;
      }
      const { makeDeltas } = await import('../commands/deltas/run.js');
      const r = await makeDeltas({
        base: ctx.base(opts),
        repo: repo!,
        names: ctx.rest(opts),
        from: opts.from === undefined ? undefined : intArg(opts.from, '--from'),
        dryRun: !!opts['dry-run'],
        waitSeconds: ctx.waitSeconds(opts),
        onWait: ctx.onWait,
      });
      ctx.emit(opts, r, () => {
        const lines = r.deltas
          .filter((d) => d.status !== 'present')
          .map((d) => `${d.status.padEnd(9)} ${d.path}${d.size !== undefined ? ` (${bytes(d.size)}, ${d.carried}/${d.total} files)` : ''}${d.message ? `: ${d.message}` : ''}`);
        const c = r.counts;
        lines.push(`${c.pairs} pair(s): ${c.present} present, ${c.made} made, ${c.reused} reused from the pool, ${c.pointless} not worth a delta, ${c.skipped} skipped`);
        lines.push(describeTx(r, 'delta'));
        return lines.join('\n');
      });
    },
  },
];
