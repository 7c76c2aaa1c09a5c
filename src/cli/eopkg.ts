/** Wiring of the eopkg-specific commands. */
import type { CommandDef } from './types.js';
import { describeTx } from './core.js';

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
];
