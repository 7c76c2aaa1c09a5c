/** Wiring of the repository lifecycle commands: clone, pull, promote, sources, trims, freeze. */
import type { CommandDef } from './types.js';
import type { CliContext, GlobalOptions } from './context.js';
import { intArg } from './context.js';
import { describeTx } from './core.js';
import type { LifecycleResult } from '../commands/lifecycle/common.js';

function writeOpts(ctx: CliContext, opts: GlobalOptions) {
  return { base: ctx.base(opts), dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait };
}

function show(ctx: CliContext, opts: GlobalOptions, r: LifecycleResult): void {
  ctx.emit(opts, r, () => [describeTx(r), ...r.notes.map((n) => `note: ${n}`)].join('\n'));
}

export const lifecycleCommands: CommandDef[] = [
  {
    usage: 'clone <src> <new>',
    dryRun: true,
    describe: "Create a repository with SRC's tip builds (eopkg) or all its files; --full copies every build and delta. Links only.",
    options: [['--full', 'Every build and delta, not only the tips']],
    booleans: ['full'],
    examples: ['clone unstable stable-candidate', 'clone unstable archive --full'],
    async run(ctx, [source, target], opts) {
      const { cloneRepo } = await import('../commands/lifecycle/clone-pull.js');
      show(ctx, opts, await cloneRepo({ ...writeOpts(ctx, opts), source: source!, target: target!, full: !!opts.full }));
    },
  },
  {
    usage: 'pull <src> <dst>',
    dryRun: true,
    describe: "Give DST every SRC tip it lacks or has at a lower release (files: absent files, and newer content); nothing is removed.",
    examples: ['pull unstable stable', 'pull unstable stable --dry-run'],
    async run(ctx, [source, target], opts) {
      const { pullRepo } = await import('../commands/lifecycle/clone-pull.js');
      show(ctx, opts, await pullRepo({ ...writeOpts(ctx, opts), source: source!, target: target! }));
    },
  },
  {
    usage: 'promote <src> <dst> <package...>',
    dryRun: true,
    describe: "Copy the tips of the named packages (deb: the newest version on each architecture) from SRC to DST; --with-deps adds their runtime-dependency closure resolved in SRC.",
    options: [
      ['--with-deps', 'Also promote the runtime dependencies DST lacks (eopkg: at the same or a higher release; deb: Depends and Pre-Depends DST does not satisfy)'],
      ['--dist', "deb: take packages from SRC's distribution D (codename or suite); DST's D, when it has one, decides what is already satisfied"],
    ],
    booleans: ['with-deps'],
    examples: ['promote unstable stable nano', 'promote unstable stable gimp --with-deps --dry-run', 'promote apt-testing apt-stable hello --with-deps --dist trixie'],
    async run(ctx, [source, target], opts) {
      const { promote } = await import('../commands/lifecycle/promote.js');
      const dist = opts.dist === undefined ? undefined : String(opts.dist);
      show(ctx, opts, await promote({ ...writeOpts(ctx, opts), source: source!, target: target!, names: ctx.rest(opts), withDeps: !!opts['with-deps'], dist }));
    },
  },
  {
    usage: 'copy-source <src> <dst> <source> [version]',
    dryRun: true,
    describe: 'Copy every build of a source package (optionally one version: eopkg release number, deb source version) from SRC to DST.',
    examples: ['copy-source unstable stable nano', 'copy-source unstable stable nano 76', 'copy-source apt-testing apt-stable hello 1:2.10-3'],
    async run(ctx, [source, target, name, version], opts) {
      const { copySource } = await import('../commands/lifecycle/sources.js');
      show(ctx, opts, await copySource({ ...writeOpts(ctx, opts), source: source!, target: target!, sourceName: name!, version: version === undefined ? undefined : String(version) }));
    },
  },
  {
    usage: 'remove-source <repo> <source> [version]',
    dryRun: true,
    describe: 'Remove every build of a source package (optionally one version: eopkg release number, deb source version).',
    examples: ['remove-source unstable nano', 'remove-source unstable nano 75', 'remove-source apt hello 2.10-2'],
    async run(ctx, [repo, name, version], opts) {
      const { removeSource } = await import('../commands/lifecycle/sources.js');
      show(ctx, opts, await removeSource({ ...writeOpts(ctx, opts), repo: repo!, sourceName: name!, version: version === undefined ? undefined : String(version) }));
    },
  },
  {
    usage: 'trim-packages <repo> <keep>',
    dryRun: true,
    describe: 'Keep the newest KEEP builds of each package name (never the tip) and the deltas between them (a delta whose source or target goes, goes too); deb: the newest KEEP versions of each package and architecture.',
    examples: ['trim-packages unstable 3', 'trim-packages unstable 1 --dry-run'],
    async run(ctx, [repo, keep], opts) {
      const { trimPackages } = await import('../commands/lifecycle/trim.js');
      show(ctx, opts, await trimPackages({ ...writeOpts(ctx, opts), repo: repo!, keep: intArg(keep, 'KEEP') }));
    },
  },
  {
    usage: 'trim-obsoletes <repo>',
    dryRun: true,
    describe: "Remove every build of the packages distribution.xml marks obsolete, and of their -dbginfo.",
    examples: ['trim-obsoletes unstable'],
    async run(ctx, [repo], opts) {
      const { trimObsoletes } = await import('../commands/lifecycle/trim.js');
      show(ctx, opts, await trimObsoletes({ ...writeOpts(ctx, opts), repo: repo! }));
    },
  },
  {
    usage: 'freeze <repo>',
    dryRun: true,
    describe: 'Refuse every change to the repository until unfrozen.',
    options: [['--reason', 'Shown to whoever tries to change it']],
    examples: ['freeze stable --reason "sync window closed"'],
    async run(ctx, [repo], opts) {
      const { setFrozen } = await import('../commands/lifecycle/freeze.js');
      const r = await setFrozen({ ...writeOpts(ctx, opts), repo: repo!, frozen: true, reason: opts.reason as string | undefined });
      ctx.emit(opts, r, () => (r.changed ? `${r.dryRun ? 'dry run: would freeze' : 'froze'} '${r.repo}'` : `'${r.repo}' is already frozen`));
    },
  },
  {
    usage: 'unfreeze <repo>',
    dryRun: true,
    describe: 'Accept changes again.',
    examples: ['unfreeze stable'],
    async run(ctx, [repo], opts) {
      const { setFrozen } = await import('../commands/lifecycle/freeze.js');
      const r = await setFrozen({ ...writeOpts(ctx, opts), repo: repo!, frozen: false });
      ctx.emit(opts, r, () => (r.changed ? `${r.dryRun ? 'dry run: would unfreeze' : 'unfroze'} '${r.repo}'` : `'${r.repo}' is not frozen`));
    },
  },
];
