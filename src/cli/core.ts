/** Wiring of the core commands (issue: engine + operator CLI). Each action calls one command module and prints. */
import type { CommandDef } from './types.js';
import { bytes, intArg, table } from './context.js';
import type { TransactionResult } from '../engine/transaction.js';
import { RcuError } from '../util/errors.js';

/** The summary line every writing command prints. */
export function describeTx(r: TransactionResult, what = 'change'): string {
  const counts = `${r.added.length} added, ${r.replaced.length} replaced, ${r.removed.length} removed`;
  if (r.dryRun) {
    const lines = [`dry run: would publish generation after ${r.parent} of '${r.repo}' (${counts})`];
    for (const p of r.added) lines.push(`  + ${p}`);
    for (const p of r.replaced) lines.push(`  ~ ${p}`);
    for (const p of r.removed) lines.push(`  - ${p}`);
    return lines.join('\n');
  }
  const warn = r.warnings.map((w) => `warning: ${w}`).join('\n');
  if (!r.published) return `nothing to publish: no ${what} against generation ${r.parent} of '${r.repo}'` + (warn ? '\n' + warn : '');
  return `published generation ${r.generation} of '${r.repo}' (${counts})` + (warn ? '\n' + warn : '');
}

type AdoptResult = import('../commands/adopt.js').AdoptResult;

function distributionLine(d: NonNullable<AdoptResult['distributions']>[number]): string {
  return `  distribution ${d.codename}${d.suite !== d.codename ? ` (suite ${d.suite})` : ''}: components ${d.components.join(' ')}; architectures ${d.architectures.join(' ')}${d.origin !== undefined ? `; Origin ${d.origin}` : ''}${d.label !== undefined ? `; Label ${d.label}` : ''}`;
}

function describeAdopt(r: AdoptResult): string {
  if (r.dryRun) {
    const head = `dry run: would create '${r.repo}' (${r.format}) from ${r.source}: ${r.imported} file(s)${r.assets.length ? `, assets ${r.assets.join(', ')}` : ''}; ${r.notImported.length} not imported`;
    if (r.format !== 'deb') return head;
    return [head, ...(r.distributions ?? []).map(distributionLine), ...(r.wouldImport ?? []).map((f) => `  would import: ${f}`), ...r.moved.map((m) => `  would move: ${m}`), ...r.notImported.map((n) => `  not imported: ${n}`), ...r.notes.map((n) => `  note: ${n}`)].join('\n');
  }
  const lines = [`adopted ${r.source} as '${r.repo}' (${r.format}), generation ${r.generation}: ${r.imported} file(s)${r.assets.length ? `, assets ${r.assets.join(', ')}` : ''}`];
  for (const d of r.distributions ?? []) lines.push(distributionLine(d));
  for (const m of r.moved) lines.push(`  moved: ${m}`);
  for (const n of r.notImported) lines.push(`  not imported: ${n}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  for (const d of r.differences) lines.push(`  DIFFERENCE: ${d}`);
  lines.push(r.differences.length ? `${r.differences.length} difference(s) between the original index and rcurepo's` : "rcurepo's index lists every package exactly as the original did");
  return lines.join('\n');
}

export const coreCommands: CommandDef[] = [
  {
    usage: 'init',
    dryRun: true,
    describe: 'Create the base layout (pool, repositories) and check the filesystem supports hard links and atomic symlink swaps.',
    examples: ['init --base /srv/rcurepo', 'init --base /srv/rcurepo --dry-run'],
    async run(ctx, _args, opts) {
      const { init } = await import('../commands/init.js');
      const r = await init({ base: ctx.base(opts), dryRun: !!opts['dry-run'] });
      ctx.emit(opts, r, () =>
        r.dryRun ? `dry run: ${r.created ? `would initialise ${r.base}` : `${r.base} is already initialised`}` : r.created ? `initialised ${r.base} (layout version ${r.layoutVersion})` : `${r.base} is already initialised (layout version ${r.layoutVersion})`,
      );
    },
  },
  {
    usage: 'create-repo <name>',
    dryRun: true,
    describe: 'Create a repository with an empty, published first generation (or a mirror of an upstream, or adopt a published tree).',
    options: [
      ['--format', 'Repository format: files (default), eopkg or deb'],
      ['--upstream', "Make a mirror of rsync://HOST/MODULE/PATH, ssh://HOST/PATH or a local path; fill it with 'sync'"],
      ['--keyring', "A mirror's OpenPGP keyring: the upstream's signatures must verify against it"],
      ['--adopt', 'Take an existing published tree (a ferryd repository folder, an aptly or reprepro publish) once: packages into the pool, indexes regenerated and compared'],
      ['--dist', 'deb: codename of the first distribution (required for deb); with --adopt: the distributions to adopt (comma-separated or repeated; default all)'],
      ['--suite', 'deb: suite name (default: the codename)'],
      ['--components', 'deb: comma-separated components (default main)'],
      ['--architectures', 'deb: comma-separated architectures (default amd64)'],
      ['--origin', 'deb: Release Origin (fixed once published)'],
      ['--label', 'deb: Release Label (fixed once published)'],
      ['--description', 'deb: Release Description'],
      ['--flat', 'deb: flat layout (Packages and Release at the top, one component)'],
    ],
    booleans: ['flat'],
    examples: ['create-repo main --format files', 'create-repo unstable --format eopkg', 'create-repo apt --format deb --dist bookworm --components main,contrib --architectures amd64,arm64 --origin Example', 'create-repo solus --format eopkg --upstream rsync://mirror.example.org/solus/packages/shannon', 'create-repo legacy --format eopkg --adopt /srv/ferryd/repo/unstable', 'create-repo apt --format deb --adopt /srv/aptly/public --dist bookworm'],
    async run(ctx, [name], opts) {
      if (opts.adopt !== undefined) {
        if (opts.upstream !== undefined) throw new RcuError('USAGE', '--adopt and --upstream exclude each other');
        const fromTree = ['suite', 'components', 'architectures', 'origin', 'label', 'description', 'flat'].filter((k) => opts[k] !== undefined && opts[k] !== false);
        if (fromTree.length) throw new RcuError('USAGE', `--${fromTree[0]} does not go with --adopt: an adopted tree's distributions are read from its Release files`);
        const dists = ([] as unknown[]).concat(opts.dist ?? []).flatMap((d) => String(d).split(',')).map((d) => d.trim()).filter((d) => d !== '');
        const { adoptRepo } = await import('../commands/adopt.js');
        const r = await adoptRepo({ base: ctx.base(opts), name: name!, format: opts.format as string | undefined, source: String(opts.adopt), cwd: ctx.io.cwd, dryRun: !!opts['dry-run'], dists, waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
        ctx.emit(opts, r, () => describeAdopt(r));
        return;
      }
      const { createRepo } = await import('../commands/repos.js');
      const s = (k: string) => (opts[k] === undefined ? undefined : String(opts[k]));
      const deb = { dist: s('dist'), suite: s('suite'), components: s('components'), architectures: s('architectures'), origin: s('origin'), label: s('label'), description: s('description'), flat: !!opts.flat };
      const r = await createRepo({ base: ctx.base(opts), name: name!, format: opts.format as string | undefined, upstream: opts.upstream as string | undefined, keyring: opts.keyring as string | undefined, deb, dryRun: !!opts['dry-run'] });
      const what = r.upstream ? `${r.format} mirror of ${r.upstream}` : r.format;
      ctx.emit(opts, r, () => (r.dryRun ? `dry run: would create '${r.repo}' (${what})` : `created repository '${r.repo}' (${what}); serving ${r.path}${r.upstream ? `; fill it with 'rcurepo sync ${r.repo}'` : ''}`));
    },
  },
  {
    usage: 'list-repos',
    describe: 'List repositories with their format and current generation.',
    examples: ['list-repos', 'list-repos --json'],
    async run(ctx, _args, opts) {
      const { listRepos } = await import('../commands/repos.js');
      const r = await listRepos({ base: ctx.base(opts) });
      ctx.emit(opts, r, () =>
        r.length ? table([['NAME', 'FORMAT', 'CURRENT', 'SNAPSHOTS', 'FROZEN'], ...r.map((x) => [x.name, x.format, String(x.current ?? '-'), String(x.snapshots), x.frozen ? 'yes' : 'no'])]) : 'no repositories',
      );
    },
  },
  {
    usage: 'delete-repo <name>',
    dryRun: true,
    describe: 'Delete a repository and all its snapshots (needs --force), then sweep unreferenced pool blobs.',
    options: [['--force', 'Really delete']],
    booleans: ['force'],
    examples: ['delete-repo scratch --force'],
    async run(ctx, [name], opts) {
      const { deleteRepo } = await import('../commands/repos.js');
      const r = await deleteRepo({ base: ctx.base(opts), name: name!, force: !!opts.force, dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () => (r.dryRun ? `dry run: would delete '${r.repo}'` : `deleted '${r.repo}'; swept ${r.blobsFreed} pool blobs (${bytes(r.bytesFreed)})`));
    },
  },
  {
    usage: 'import <repo> <path...>',
    dryRun: true,
    describe: 'Import files, directories (walked) or glob patterns into a repository as one new generation, or one upload manifest (.tram, .changes). deb: a .dsc brings the files it lists. Idempotent.',
    options: [
      ['--prefix', 'Place the files under this folder of the tree (files format)'],
      ['--dist', 'deb: distribution to import into (default: the first)'],
      ['--component', 'deb: component (default: the distribution\'s first)'],
      ['--replace', 'Publish new bytes for a path that already exists with different content'],
      ['--follow-symlinks', 'Import the targets of symbolic links instead of refusing them'],
    ],
    booleans: ['replace', 'follow-symlinks'],
    examples: ['import main ./build/out --prefix releases/1.2', "import main 'dist/**/*.tar.gz'", 'import unstable nano-2.8.6-76-1-x86_64.eopkg', 'import unstable build-1234.tram', 'import apt --dist bookworm --component main ./out/*.deb', 'import apt ./hello_1.0-1.dsc', 'import apt ./hello_1.0-1_amd64.changes'],
    async run(ctx, [repo], opts) {
      const { importFiles } = await import('../commands/import.js');
      const r = await importFiles({
        base: ctx.base(opts),
        repo: repo!,
        paths: ctx.rest(opts),
        cwd: ctx.io.cwd,
        prefix: opts.prefix as string | undefined,
        dist: opts.dist === undefined ? undefined : String(opts.dist),
        component: opts.component === undefined ? undefined : String(opts.component),
        replace: !!opts.replace,
        followSymlinks: !!opts['follow-symlinks'],
        dryRun: !!opts['dry-run'],
        waitSeconds: ctx.waitSeconds(opts),
        onWait: ctx.onWait,
      });
      ctx.emit(opts, r, () => {
        if (r.alreadyPublished !== undefined) return `already published in generation ${r.alreadyPublished} of '${r.repo}' (manifest ${r.manifest ?? ''})`;
        return r.published || r.dryRun ? describeTx(r) : `nothing to publish: all ${r.inputs} file(s) already present with identical content in generation ${r.parent} of '${r.repo}'`;
      });
    },
  },
  {
    usage: 'remove <repo> <path...>',
    dryRun: true,
    describe: 'Remove files, folders or glob patterns (matched inside the tree) as one new generation.',
    examples: ['remove main releases/1.0', "remove main 'old/**/*.tar.gz'"],
    async run(ctx, [repo], opts) {
      const { removePaths } = await import('../commands/remove.js');
      const r = await removePaths({ base: ctx.base(opts), repo: repo!, paths: ctx.rest(opts), dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () => describeTx(r));
    },
  },
  {
    usage: 'list <repo>',
    describe: 'List the files of the current (or a given) generation.',
    options: [['--gen', 'Generation to list (default: current)']],
    examples: ['list main', 'list main --gen 4 --json'],
    async run(ctx, [repo], opts) {
      const { listRepoContent } = await import('../commands/list.js');
      const r = await listRepoContent({ base: ctx.base(opts), repo: repo!, generation: opts.gen === undefined ? undefined : intArg(opts.gen, '--gen') });
      ctx.emit(opts, r.data, () => r.human);
    },
  },
  {
    usage: 'history <repo>',
    describe: 'Show the generations of a repository: time, actor, operation, counts, parent.',
    examples: ['history main', 'history main --json'],
    async run(ctx, [repo], opts) {
      const { history } = await import('../commands/inspect.js');
      const r = await history({ base: ctx.base(opts), repo: repo! });
      // deb: what each generation changed, as packages (from the history record's sample of paths).
      const view = r[0]?.format === 'deb' ? await import('../commands/deb-view.js') : undefined;
      const debLines = view
        ? (hs: typeof r) =>
            hs
              .filter((h) => h.changes && h.changes.added.length + h.changes.removed.length + h.changes.replaced.length > 0)
              .map((h) => `gen ${h.generation}: ` + [...h.changes!.added.map((p) => `+${view.debLabel(p)}`), ...h.changes!.replaced.map((p) => `~${view.debLabel(p)}`), ...h.changes!.removed.map((p) => `-${view.debLabel(p)}`)].join(', ') + (h.changes!.truncated ? ', ...' : ''))
              .join('\n')
        : undefined;
      ctx.emit(opts, r, () =>
        table([
          ['GEN', 'TIME', 'ACTOR', 'OPERATION', '+ADD', '~REPL', '-REM', 'FILES', 'PARENT', ''],
          ...r.map((h) => [String(h.generation), h.time, h.actor, h.operation, String(h.added), String(h.replaced), String(h.removed), String(h.files), String(h.parent ?? '-'), (h.current ? 'current' : '') + (h.kept ? '' : ' (reaped)')]),
        ]) + (debLines ? '\n' + debLines(r) : ''),
      );
    },
  },
  {
    usage: 'diff <repo> <from> <to>',
    describe: 'Show what changed between two generations.',
    examples: ['diff main 3 5'],
    async run(ctx, [repo, from, to], opts) {
      const { diff } = await import('../commands/inspect.js');
      const r = await diff({ base: ctx.base(opts), repo: repo!, from: intArg(from, 'FROM'), to: intArg(to, 'TO') });
      const { debLabel } = r.format === 'deb' ? await import('../commands/deb-view.js') : { debLabel: (p: string) => p };
      ctx.emit(opts, r, () =>
        [...r.added.map((e) => `+ ${debLabel(e.path)}`), ...r.changed.map((c) => `~ ${debLabel(c.path)}`), ...r.removed.map((e) => `- ${debLabel(e.path)}`), `${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed between ${r.from} and ${r.to}`].join('\n'),
      );
    },
  },
  {
    usage: 'rollback <repo> <gen>',
    dryRun: true,
    describe: "Publish a NEW generation with the content of an older one (current never moves backwards).",
    examples: ['rollback main 4'],
    async run(ctx, [repo, gen], opts) {
      const { rollback } = await import('../commands/rollback.js');
      const r = await rollback({ base: ctx.base(opts), repo: repo!, generation: intArg(gen, 'GEN'), dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () => describeTx(r));
    },
  },
  {
    usage: 'status [repo]',
    describe: 'Show current generations, snapshots kept, pool usage and the bytes each snapshot alone holds.',
    examples: ['status', 'status main --json'],
    async run(ctx, [repo], opts) {
      const { status } = await import('../commands/status.js');
      const r = await status({ base: ctx.base(opts), repo });
      ctx.emit(opts, r, () => {
        const lines = [`pool: ${r.pool.blobs} blobs, ${bytes(r.pool.bytes)}, ${r.pool.unreferenced} unreferenced`];
        for (const s of r.repos) {
          lines.push(`${s.name} (${s.format}): current generation ${s.current ?? '-'}${s.frozen ? ', FROZEN' : ''}${s.lock ? `, locked by pid ${s.lock.pid} (${s.lock.operation})` : ''}`);
          for (const g of s.snapshots) lines.push(`  gen ${g.generation}${g.current ? ' (current)' : ''}: ${g.files} files, ${bytes(g.bytes)}, alone holds ${bytes(g.exclusiveBytes)}${g.supersededAt ? `, superseded ${g.supersededAt}` : ''}`);
          for (const sp of s.spares) lines.push(`  spare clone${sp.kind === 'twin' ? ' (twin)' : ''} of gen ${sp.generation}: ${sp.state}${sp.pid ? ` (pid ${sp.pid})` : ''}${sp.files !== undefined ? `, ${sp.files} files` : ''}${sp.made ? `, made ${sp.made}` : ''}${sp.carried ? ' (carried forward)' : ''}`);
          if (!s.spareClone) lines.push('  spare clones: off');
          if (s.signing) {
            for (const k of s.signing.keys) lines.push(`  signing key ${k.fingerprint}: ${k.state}, ${k.expires ? `expires ${k.expires}` : 'never expires'}`);
            for (const w of s.signing.warnings) lines.push(`  WARNING: ${w}`);
          }
        }
        return lines.join('\n');
      });
    },
  },
  {
    usage: 'verify [repo]',
    dryRun: true,
    describe: 'Check trees, indexes, pool hashes and link counts agree; non-zero exit on any fault. --repair rebuilds every cache.',
    options: [
      ['--deep', 'Re-hash every pool blob'],
      ['--repair', 'Rebuild caches (manifests, history, blob metadata) from trees and pool'],
    ],
    booleans: ['deep', 'repair'],
    examples: ['verify', 'verify main --deep', 'verify --repair'],
    async run(ctx, [repo], opts) {
      const { verify } = await import('../commands/verify.js');
      const r = await verify({ base: ctx.base(opts), repo, deep: !!opts.deep, repair: !!opts.repair, dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () =>
        [
          ...(r.dryRun && opts.repair ? ['dry run: nothing was repaired; --repair would clean crash leftovers and rebuild the caches behind these faults:'] : []),
          ...r.repaired.map((x) => `repaired: ${x}`),
          ...r.faults.map((x) => `FAULT: ${x}`),
          `checked ${r.repos.length} repositories, ${r.snapshots} snapshots, ${r.files} files, ${r.blobs} pool blobs: ${r.faults.length} fault(s)`,
        ].join('\n'),
      );
      if (r.faults.length) throw new RcuError('INTEGRITY', `${r.faults.length} integrity fault(s) found`, { data: { reported: true } });
    },
  },
];
