/** Wiring of `rcurepo mirror ...`: add, list, remove, push, status, authorized-keys. */
import type { CommandDef } from './types.js';
import { bytes, intArg, table } from './context.js';
import { RcuError } from '../util/errors.js';

const optInt = (v: unknown, name: string) => (v === undefined ? undefined : intArg(v, name));
const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export const mirrorCommands: CommandDef[] = [
  {
    usage: 'mirror <action> [repo]',
    describe:
      'Mirrors: push each snapshot to other hosts (rsync over ssh, or a local path), swapped there by symlink + rename. Actions: add REPO NAME --to ssh://USER@HOST[:PORT]/PATH|/PATH, list [REPO], remove REPO NAME, push REPO [NAME...], status [REPO], authorized-keys REPO NAME.',
    options: [
      ['--to', 'add: ssh://USER@HOST[:PORT]/PATH or an absolute local path'],
      ['--keep', 'add: snapshots kept on the mirror (default 3)'],
      ['--grace', 'add: seconds a superseded snapshot stays on the mirror (default 3600)'],
      ['--identity', 'add: ssh private key file for the push'],
      ['--restricted', 'add: the key is restricted by the lines of `mirror authorized-keys` (forced command)'],
      ['--ssh-option', 'add: extra ssh -o option, repeatable (e.g. UserKnownHostsFile=/etc/rcurepo/known_hosts)'],
      ['--gen', 'push: generation to push (default: current)'],
      ['--background', 'push: as after a publish: quiet, follows current, retries failures with backoff'],
      ['--retry', 'push: seconds to keep retrying a failing mirror (default 0; 3600 with --background)'],
      ['--script', 'authorized-keys: print the mirror-side script to install instead'],
      ['--script-path', 'authorized-keys: where the script is installed on the mirror (default /usr/local/lib/rcurepo/mirror.sh)'],
    ],
    booleans: ['restricted', 'background', 'script'],
    examples: [
      'mirror add main eu1 --to ssh://push@eu1.example.org/srv/mirror/main --identity /etc/rcurepo/push_ed25519',
      'mirror add main local --to /srv/mirror/main --keep 2 --grace 600',
      'mirror push main',
      'mirror push main eu1 --gen 42',
      'mirror status --json',
      'mirror authorized-keys main eu1',
    ],
    async run(ctx, [action, repo], opts) {
      const m = await import('../commands/mirror.js');
      const base = ctx.base(opts);
      const rest = ctx.rest(opts);
      const needRepo = () => {
        if (!repo) throw new RcuError('USAGE', `mirror ${action} needs a repository`);
        return repo;
      };
      const needName = () => {
        if (!rest[0]) throw new RcuError('USAGE', `mirror ${action} needs a mirror name: mirror ${action} REPO NAME`);
        return rest[0];
      };
      switch (action) {
        case 'add': {
          if (opts.to === undefined) throw new RcuError('USAGE', 'mirror add needs --to ssh://USER@HOST[:PORT]/PATH or --to /local/path');
          const r = await m.addMirror({
            base,
            repo: needRepo(),
            name: needName(),
            to: String(opts.to),
            keep: optInt(opts.keep, '--keep'),
            graceSeconds: optInt(opts.grace, '--grace'),
            identity: opts.identity === undefined ? undefined : String(opts.identity),
            restricted: !!opts.restricted,
            sshOptions: list(opts['ssh-option']),
            waitSeconds: ctx.waitSeconds(opts),
            onWait: ctx.onWait,
          });
          return ctx.emit(opts, r, () => `added mirror '${r.mirror.name}' of '${r.repo}': ${r.mirror.to} (keep ${r.mirror.keep}, grace ${r.mirror.graceSeconds} s)`);
        }
        case 'remove': {
          const r = await m.removeMirror({ base, repo: needRepo(), name: needName(), waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
          return ctx.emit(opts, r, () => `removed mirror '${r.removed}' of '${r.repo}' (what it holds stays on the mirror)`);
        }
        case 'list': {
          const r = await m.listMirrors({ base, repo });
          return ctx.emit(opts, r, () =>
            r.mirrors.length
              ? table([['REPO', 'MIRROR', 'KEEP', 'GRACE', 'KEY', 'TO'], ...r.mirrors.map((x) => [x.repo, x.name, String(x.keep), `${x.graceSeconds}s`, x.identity ? `${x.identity}${x.restricted ? ' (restricted)' : ''}` : '-', x.to])])
              : 'no mirrors',
          );
        }
        case 'push': {
          const background = !!opts.background;
          const r = await m.pushMirrors({
            base,
            repo: needRepo(),
            names: rest,
            gen: optInt(opts.gen, '--gen'),
            waitSeconds: background && opts.wait === undefined ? 3600 : ctx.waitSeconds(opts),
            retrySeconds: opts.retry !== undefined ? intArg(opts.retry, '--retry') : background ? 3600 : undefined,
            background,
            onWait: background ? undefined : (name, what) => ctx.io.stderr(`mirror '${name}': waiting: ${what}\n`),
          });
          if (!background) {
            ctx.emit(opts, r, () =>
              r.outcomes
                .map((o) => {
                  if (o.status === 'failed') return `${o.mirror}: FAILED: ${o.error!.message}`;
                  if (o.status === 'up-to-date') return `${o.mirror}: already serves generation ${o.generation}`;
                  const s = o.stats;
                  const sent = s ? `, sent ${bytes(s.bytesSent)} (file list ${bytes(s.fileListBytes)}, literal data ${bytes(s.literalBytes)})` : ' (already uploaded)';
                  const pruned = o.pruned?.length ? `; pruned ${o.pruned.join(', ')}` : '';
                  return `${o.mirror}: now serves generation ${o.generation} (was ${o.previous ?? 'none'}) in ${secs(o.durationMs)}${sent}${pruned}`;
                })
                .join('\n'),
            );
          }
          const bad = r.outcomes.filter((o) => o.status === 'failed');
          if (bad.length === 1) throw new RcuError(bad[0]!.error!.code as 'FAILURE', bad[0]!.error!.message, { data: { reported: opts.json } });
          if (bad.length > 1) throw new RcuError('FAILURE', `${bad.length} of ${r.outcomes.length} mirrors of '${r.repo}' failed: ${bad.map((o) => o.mirror).join(', ')}`, { details: bad.map((o) => o.error!.message) });
          return;
        }
        case 'status': {
          const r = await m.mirrorStatus({ base, repo });
          return ctx.emit(opts, r, () =>
            r.mirrors.length
              ? table([
                  ['REPO', 'MIRROR', 'SERVES', 'CURRENT', 'BEHIND', 'LAST PUSH', 'DURATION', 'SENT', 'LAST ERROR'],
                  ...r.mirrors.map((x) => [
                    x.repo,
                    x.mirror,
                    x.served === undefined ? '-' : String(x.served),
                    x.current === undefined ? '-' : String(x.current),
                    x.behind === undefined ? 'unknown' : x.behind === 0 ? 'up to date' : `${x.behind} gen${x.behindSince ? ` since ${x.behindSince}` : ''}`,
                    x.state.lastPush?.at ?? '-',
                    x.state.lastPush ? secs(x.state.lastPush.durationMs) : '-',
                    x.state.lastPush ? bytes(x.state.lastPush.bytesSent) : '-',
                    x.state.lastError ? `${x.state.lastError.at}: ${x.state.lastError.message}` : '-',
                  ]),
                ])
              : 'no mirrors',
          );
        }
        case 'authorized-keys': {
          const r = await m.mirrorAuthorizedKeys({ base, repo: needRepo(), name: needName(), scriptPath: opts['script-path'] === undefined ? undefined : String(opts['script-path']) });
          if (opts.script) return ctx.io.stdout(r.script);
          return ctx.emit(opts, r, () => [...r.notes, ...r.lines].join('\n'));
        }
        default:
          throw new RcuError('USAGE', `unknown mirror action '${String(action)}': use add, list, remove, push, status or authorized-keys`);
      }
    },
  },
];
