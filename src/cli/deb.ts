/** Wiring of the deb-specific commands. */
import type { CommandDef } from './types.js';
import { describeTx } from './core.js';

export const debCommands: CommandDef[] = [
  {
    usage: 'add-dist <repo> <codename>',
    dryRun: true,
    describe: 'Add a distribution to a deb repository and publish its indexes (packages of its components appear in it).',
    options: [
      ['--suite', 'Suite name (default: the codename)'],
      ['--components', 'Comma-separated components (default main)'],
      ['--architectures', 'Comma-separated architectures (default amd64)'],
      ['--origin', 'Release Origin'],
      ['--label', 'Release Label'],
      ['--description', 'Release Description'],
    ],
    examples: ['add-dist apt trixie --suite testing --components main --architectures amd64,arm64'],
    async run(ctx, [repo, codename], opts) {
      const { addDist } = await import('../commands/deb-dists.js');
      const s = (k: string) => (opts[k] === undefined ? undefined : String(opts[k]));
      const r = await addDist({
        base: ctx.base(opts),
        repo: repo!,
        dist: codename!,
        suite: s('suite'),
        components: s('components'),
        architectures: s('architectures'),
        origin: s('origin'),
        label: s('label'),
        description: s('description'),
        dryRun: !!opts['dry-run'],
        waitSeconds: ctx.waitSeconds(opts),
        onWait: ctx.onWait,
      });
      ctx.emit(opts, r, () => describeTx(r, 'distribution change'));
    },
  },
];
