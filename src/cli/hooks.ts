/** Wiring of the hooks commands: the incoming watcher and post-publish hooks. (Group commit and .tram manifests go through `import`.) */
import type { CommandDef } from './types.js';
import { intArg, table } from './context.js';
import { RcuError } from '../util/errors.js';

const optNum = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RcuError('USAGE', `${name} takes a number of seconds, not '${String(v)}'`);
  return n;
};

export const hooksCommands: CommandDef[] = [
  {
    usage: 'watch',
    describe: 'Daemon: import uploads arriving in an incoming directory (a .tram manifest is the commit signal; bare files need --repo), delete accepted ones, move refused ones into rejected/ with a reason. JSON lines on stdout; stops on SIGTERM/SIGINT.',
    options: [
      ['--incoming', 'Directory to watch (default: BASE/incoming)'],
      ['--repo', 'Target repository of bare files (files not named by a manifest); without it only manifests are taken'],
      ['--settle', 'Seconds an upload must stay unchanged before it is taken (default 5)'],
      ['--poll', 'Seconds between directory scans (default 0.5)'],
    ],
    examples: ['watch --incoming /srv/incoming', 'watch --incoming /srv/incoming --repo unstable --settle 10'],
    async run(ctx, _args, opts) {
      const { watch } = await import('../commands/watch.js');
      await watch({
        base: ctx.base(opts),
        incoming: opts.incoming === undefined ? undefined : String(opts.incoming),
        repo: opts.repo === undefined ? undefined : String(opts.repo),
        settleSeconds: optNum(opts.settle, '--settle'),
        pollSeconds: optNum(opts.poll, '--poll'),
        waitSeconds: ctx.waitSeconds(opts),
        cwd: ctx.io.cwd,
        log: ctx.io.stdout,
      });
    },
  },
  {
    usage: 'hooks <action> <repo>',
    describe: 'Post-publish hooks (run after each publish with RCUREPO_REPO, RCUREPO_GENERATION, RCUREPO_SNAPSHOT, RCUREPO_BASE set): add REPO -- CMD..., list REPO, remove REPO N, run REPO (now, waiting for the result).',
    options: [
      ['--timeout', 'hooks add: seconds before the hook is killed (default 300)'],
      ['--gen', 'hooks run: generation (default: current)'],
      ['--background', 'hooks run: started after a publish: run for the current generation, no messages'],
    ],
    booleans: ['background'],
    examples: ['hooks add main -- /usr/local/bin/push-mirror main', "hooks add main --timeout 30 -- sh -c 'curl -fsS -X PURGE https://cdn.example/main/'", 'hooks list main', 'hooks remove main 2', 'hooks run main'],
    async run(ctx, [action, repo], opts) {
      const m = await import('../commands/hooks.js');
      const base = ctx.base(opts);
      if (action === 'run' && opts.background) {
        await m.runHooksAfterPublish({ base, repo: repo! }); // outcomes are in the hooks' log
        return;
      }
      if (action === 'run') {
        const r = await m.runHooksNow({ base, repo: repo!, generation: opts.gen === undefined ? undefined : intArg(opts.gen, '--gen') });
        ctx.emit(opts, r, () =>
          r.outcomes.length ? r.outcomes.map((o) => `hook ${o.hook} (${o.argv.join(' ')}): ${o.status}${o.exitCode ? ` (exit ${o.exitCode})` : ''}${o.durationMs !== undefined ? ` in ${o.durationMs} ms` : ''}`).join('\n') : `'${r.repo}' has no post-publish hooks`,
        );
        const bad = r.outcomes.filter((o) => o.status === 'failed' || o.status === 'timeout');
        if (bad.length) throw new RcuError('FAILURE', `${bad.length} post-publish hook(s) failed for generation ${r.generation} of '${r.repo}'; see ${r.log}`);
        return;
      }
      let r;
      if (action === 'add') r = await m.addHook({ base, repo: repo!, argv: ctx.rest(opts), timeoutSeconds: optNum(opts.timeout, '--timeout'), waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      else if (action === 'remove') r = await m.removeHook({ base, repo: repo!, index: intArg(ctx.rest(opts)[0], 'N'), waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      else if (action === 'list') r = await m.listHooks({ base, repo: repo! });
      else throw new RcuError('USAGE', `unknown hooks action '${String(action)}': use add, list, remove or run`);
      const list = r;
      ctx.emit(opts, list, () =>
        list.hooks.length
          ? table([['N', 'TIMEOUT', 'COMMAND'], ...list.hooks.map((h) => [String(h.index), `${h.timeoutSeconds ?? 300}s`, h.argv.map((a) => (/^[\w./=:@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')])]) + `log: ${list.log}`
          : `'${list.repo}' has no post-publish hooks`,
      );
    },
  },
];
