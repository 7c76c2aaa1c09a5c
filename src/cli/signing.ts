/** Wiring of the signing commands: keys show|export|init-key. */
import type { CommandDef } from './types.js';
import { RcuError } from '../util/errors.js';

const optStr = (v: unknown) => (v === undefined || v === true ? undefined : String(v));

export const signingCommands: CommandDef[] = [
  {
    usage: 'resign <repo>',
    dryRun: true,
    describe: 'Publish a new generation with the same content and fresh signatures (after turning signing on, adding a key, or before a key expires).',
    examples: ['resign main'],
    async run(ctx, [repo], opts) {
      const { resign } = await import('../commands/resign.js');
      const r = await resign({ base: ctx.base(opts), repo: repo!, dryRun: !!opts['dry-run'], waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () => (r.published ? `published generation ${r.generation} of '${r.repo}' with fresh signatures` : r.dryRun ? `would publish a new generation of '${r.repo}' with fresh signatures` : `nothing published`));
    },
  },
  {
    usage: 'keys <action> <repo>',
    describe: "Signing keys: show REPO (configured keys, expiry), export REPO [--out DIR] (public keyring REPO-keyring.gpg and .asc for clients), init-key REPO --name N --email E (a new ed25519 key without passphrase; sets signKeys).",
    options: [
      ['--out', 'keys export: directory for REPO-keyring.gpg and REPO-keyring.asc (default: the current directory)'],
      ['--name', 'keys init-key: the real name of the key user id'],
      ['--email', 'keys init-key: the e-mail of the key user id'],
      ['--gnupg-home', 'keys init-key: GnuPG home to create the key in; also sets signGnupgHome (default: the configured one)'],
      ['--expire', "keys init-key: key expiry as gpg takes it: 2y (default), 1y, never, an ISO date"],
      ['--add', 'keys init-key: sign with the new key beside the configured ones (key rotation)'],
    ],
    booleans: ['add'],
    examples: ['keys show main', 'keys export main --out /srv/www/keys', "keys init-key main --name 'Example Archive' --email archive@example.org --gnupg-home /srv/rcurepo/gnupg"],
    async run(ctx, [action, repo], opts) {
      const { keysShow, keysExport, keysInit } = await import('../commands/keys.js');
      const base = ctx.base(opts);
      if (action === 'show') {
        const r = await keysShow({ base, repo: repo! });
        ctx.emit(opts, r, () =>
          !r.signing
            ? `${r.repo}: does not sign (no signKeys)`
            : [`${r.repo}: signs with ${r.keys.length} key(s) from ${r.gnupgHome ?? "gpg's default home"}`, ...r.keys.map((k) => `  ${k.fingerprint}  ${k.state}  ${k.expires ? `expires ${k.expires}` : 'never expires'}${k.uid ? `  ${k.uid}` : ''}`)].join('\n'),
        );
      } else if (action === 'export') {
        const r = await keysExport({ base, repo: repo!, out: optStr(opts.out), cwd: ctx.io.cwd });
        ctx.emit(opts, r, () => `wrote ${r.files.join(' and ')} (${r.keys.length} key(s))`);
      } else if (action === 'init-key') {
        const r = await keysInit({
          base,
          repo: repo!,
          name: optStr(opts.name) ?? '',
          email: optStr(opts.email) ?? '',
          gnupgHome: optStr(opts['gnupg-home']),
          expire: optStr(opts.expire),
          add: !!opts.add,
          cwd: ctx.io.cwd,
          waitSeconds: ctx.waitSeconds(opts),
          onWait: ctx.onWait,
        });
        ctx.emit(opts, r, () => `${r.repo}: created key ${r.fingerprint} in ${r.gnupgHome}; signKeys = ${r.signKeys.join(',')}`);
      } else throw new RcuError('USAGE', `keys: unknown action '${String(action)}' (show, export, init-key)`);
    },
  },
];
