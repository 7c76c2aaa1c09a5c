/** Wiring of the readers commands: leases, with-snapshot, gc, pins, settings, HTTP serving, rsyncd. */
import type { CommandDef } from './types.js';
import { bytes, intArg, secondsArg, table } from './context.js';
import { DEFAULT_SETTINGS } from '../readers/settings.js';
import { RcuError } from '../util/errors.js';

const optInt = (v: unknown, name: string) => (v === undefined ? undefined : intArg(v, name));
const optStr = (v: unknown) => (v === undefined ? undefined : String(v));

export const readersCommands: CommandDef[] = [
  {
    usage: 'lease <action> [target]',
    dryRun: true,
    describe: 'Leases keep a generation from being reaped: acquire REPO (prints the id and the snapshot path), renew ID, release ID, list [REPO].',
    options: [
      ['--gen', 'lease acquire: generation (default: current)'],
      ['--ttl', 'Seconds until the lease expires unless renewed (default 3600, at most the repository leaseMaxTtlSeconds)'],
      ['--holder', 'lease acquire: who holds it (free text)'],
      ['--pid', 'lease acquire: the lease dies with this process'],
    ],
    examples: ['lease acquire main --ttl 600 --holder backup --pid $$', 'lease renew main.12.3f9a0c2b1d4e', 'lease release main.12.3f9a0c2b1d4e', 'lease list main'],
    async run(ctx, [action, target], opts) {
      const { leaseCommand } = await import('../commands/lease.js');
      const r = await leaseCommand({
        base: ctx.base(opts),
        action: action!,
        args: target === undefined ? [] : [target],
        gen: optInt(opts.gen, '--gen'),
        ttl: opts.ttl === undefined ? undefined : secondsArg(opts.ttl, '--ttl'),
        holder: optStr(opts.holder),
        pid: optInt(opts.pid, '--pid'),
        dryRun: !!opts['dry-run'],
      });
      ctx.emit(opts, r, () => {
        if (r.dryRun) {
          if (r.action === 'release') return r.released ? `dry run: would release ${r.id}` : `dry run: ${r.id} is not held; nothing to release`;
          if (r.action === 'acquire' || r.action === 'renew') return `dry run: would ${r.action} a lease on generation ${r.generation} of '${r.repo}' (${r.path}) until ${r.expires}`;
        }
        if (r.action === 'release') return r.released ? `released ${r.id}` : `${r.id} was not held (already released, expired and tidied, or reaped)`;
        if (r.action === 'list') {
          if (!r.leases.length) return 'no leases';
          return table([['ID', 'REPO', 'GEN', 'HOLDER', 'PID', 'EXPIRES', 'STATE'], ...r.leases.map((l) => [l.id, l.repo, String(l.generation), l.holder, String(l.pid ?? '-'), l.expires, l.state === 'live' ? 'alive' : `dead (${l.state})`])]);
        }
        return `${r.id}\t${r.path}` + (r.clamped ? `\nnote: TTL lowered to the repository maximum; expires ${r.expires}` : '');
      });
    },
  },
  {
    usage: 'with-snapshot <repo> <command...>',
    describe: 'Run a command inside a leased snapshot (cwd and $RCUREPO_SNAPSHOT), renewing the lease while it runs; passes on its exit status.',
    options: [['--gen', 'Generation (default: current)']],
    examples: ['with-snapshot main -- rsync -a ./ mirror:/srv/main/', 'with-snapshot main --gen 12 -- sha256sum -c SHA256SUMS'],
    async run(ctx, [repo], opts) {
      const { withSnapshot } = await import('../commands/with-snapshot.js');
      const r = await withSnapshot({ base: ctx.base(opts), repo: repo!, gen: optInt(opts.gen, '--gen'), command: ctx.rest(opts), env: ctx.io.env, holder: optStr(opts.holder) });
      if (opts.json) ctx.emit(opts, r, () => '');
      if (r.exitCode !== 0) {
        throw new RcuError('FAILURE', `command exited with status ${r.exitCode}${r.signal ? ` (${r.signal})` : ''} in generation ${r.generation} of '${r.repo}'`, { data: { exitCode: r.exitCode } });
      }
    },
  },
  {
    usage: 'spare <repo>',
    describe: 'Make the spare clone of the current generation and its twin now (started in the background after each publish while spareClone is on; the twin while spareTwin is on too), and remove spares that can no longer be used.',
    options: [['--background', 'Started after a publish: no messages']],
    booleans: ['background'],
    examples: ['spare main', 'spare main --json'],
    async run(ctx, [repo], opts) {
      const { spare } = await import('../commands/spare.js');
      const r = await spare({ base: ctx.base(opts), repo: repo!, background: !!opts.background });
      if (opts.background) return;
      ctx.emit(opts, r, () => {
        if (!r.enabled) return `spare clones are off for '${r.repo}' (config ${r.repo} spareClone true)` + (r.removed.length ? `; removed ${r.removed.length} old spare(s)` : '');
        const lines = r.made.map((m) => `made the ${m.kind} of generation ${m.generation} in ${m.ms} ms`);
        lines.push(...r.skipped);
        if (r.removed.length) lines.push(`removed spare(s) of generation(s) ${r.removed.join(', ')}`);
        return lines.join('\n') || 'nothing to do';
      });
    },
  },
  {
    usage: 'gc [repo]',
    dryRun: true,
    describe: 'Reap old generations (never current, the newest K, pinned, graced or leased ones), then sweep pool blobs nothing links.',
    options: [['--background', 'Started after a publish: bounded lock wait, no messages']],
    booleans: ['background'],
    examples: ['gc', 'gc main --dry-run', 'gc --json'],
    async run(ctx, [repo], opts) {
      const { gc } = await import('../commands/gc.js');
      const r = await gc({ base: ctx.base(opts), repo, dryRun: !!opts['dry-run'], background: !!opts.background, waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      if (opts.background) return;
      ctx.emit(opts, r, () => {
        const lines: string[] = [];
        const verb = r.dryRun ? 'would reap' : 'reaped';
        for (const x of r.repos) {
          const reap = x.decisions.filter((d) => d.action === 'reap');
          lines.push(`${x.repo}: ${verb} ${reap.length ? reap.map((d) => d.generation).join(', ') : 'nothing'} (current ${x.current ?? '-'})`);
          for (const d of x.decisions) if (d.action === 'keep') lines.push(`  keep ${d.generation}: ${d.reason}`);
          for (const p of x.problems) lines.push(`  warning: ${p}`);
        }
        lines.push(`pool: ${r.dryRun ? 'would sweep' : r.sweep.ran ? 'swept' : 'sweep skipped (pool busy)'} ${r.sweep.removed} of ${r.sweep.examined} blobs`);
        lines.push(`${r.dryRun ? 'would free' : 'freed'} ${bytes(r.bytesFreed)}`);
        return lines.join('\n');
      });
    },
  },
  {
    usage: 'pin <repo> <gen>',
    dryRun: true,
    describe: 'Keep a generation from being reaped until unpinned.',
    options: [['--reason', 'Why (recorded in the pin)']],
    examples: ['pin main 12 --reason "release 4.2"'],
    async run(ctx, [repo, gen], opts) {
      const { pin } = await import('../commands/pin.js');
      const r = await pin({ base: ctx.base(opts), repo: repo!, generation: intArg(gen, 'GEN'), pin: true, reason: optStr(opts.reason), dryRun: !!opts['dry-run'] });
      ctx.emit(opts, r, () => (r.dryRun ? `dry run: generation ${r.generation} of '${r.repo}' ${r.changed ? 'would be pinned' : 'is already pinned'}` : r.changed ? `pinned generation ${r.generation} of '${r.repo}'` : `generation ${r.generation} of '${r.repo}' was already pinned`));
    },
  },
  {
    usage: 'unpin <repo> <gen>',
    dryRun: true,
    describe: 'Let the reaper consider a pinned generation again.',
    examples: ['unpin main 12'],
    async run(ctx, [repo, gen], opts) {
      const { pin } = await import('../commands/pin.js');
      const r = await pin({ base: ctx.base(opts), repo: repo!, generation: intArg(gen, 'GEN'), pin: false, dryRun: !!opts['dry-run'] });
      ctx.emit(opts, r, () => (r.dryRun ? `dry run: generation ${r.generation} of '${r.repo}' ${r.changed ? 'would be unpinned' : 'is not pinned'}` : r.changed ? `unpinned generation ${r.generation} of '${r.repo}'` : `generation ${r.generation} of '${r.repo}' was not pinned`));
    },
  },
  {
    usage: 'config <repo> [key] [value]',
    dryRun: true,
    describe: `Show or set repository settings: keep, graceSeconds, leaseMaxTtlSeconds, gcAfterPublish, serveWindowSeconds, indexXzPreset (eopkg index xz level 0-9, default ${DEFAULT_SETTINGS.indexXzPreset}), spareClone, spareTwin, plainIndex, mirrorPushAfterPublish, deltasAfterPublish (eopkg: make missing deltas in the background after a publish, default false); signing: signKeys (FPR[,FPR2]), signGnupgHome, signTimeoutSeconds, signSumsAsc; uploads: uploadKeyring (binary keyring FILE: upload manifests must be clearsigned by one of its keys).`,
    options: [
      ['--unset', 'Return KEY to its default'],
      ['--disable-signing', "Confirms 'signKeys --unset': later publishes are unsigned"],
    ],
    booleans: ['unset', 'disable-signing'],
    examples: ['config main', 'config main graceSeconds 600', 'config main keep --unset', 'config main signGnupgHome /srv/rcurepo/gnupg', 'config main signKeys 0123...CDEF,4567...89AB', 'config main signKeys --unset --disable-signing', 'config main uploadKeyring /srv/rcurepo/uploaders.gpg'],
    async run(ctx, [repo, key, value], opts) {
      const { config } = await import('../commands/config.js');
      const r = await config({ base: ctx.base(opts), repo: repo!, key, value, unset: !!opts.unset, dryRun: !!opts['dry-run'], disableSigning: !!opts['disable-signing'], cwd: ctx.io.cwd, waitSeconds: ctx.waitSeconds(opts), onWait: ctx.onWait });
      ctx.emit(opts, r, () =>
        r.changed
          ? `${r.dryRun ? 'dry run: would set ' : ''}${r.repo}: ${r.changed.key} = ${r.changed.value === null ? '(default)' : String(r.changed.value)}`
          : [...Object.entries(r.settings), ...Object.entries(r.signing), ...(r.uploadKeyring ? [['uploadKeyring', r.uploadKeyring]] : [])].map(([k, v]) => `${k} = ${String(v)}`).join('\n'),
      );
    },
  },
  {
    usage: 'serve',
    describe: 'Serve every repository over HTTP/1.1 (/REPO/PATH, /REPO/@GEN/PATH, listings, /REPO/@rcurepo/ pages, /metrics) until SIGTERM, then drain; SIGHUP reopens the logs.',
    options: [
      ['--listen', 'ADDR:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one)'],
      ['--access-log', "Access log file, '-' for stdout (default), 'off' for none"],
      ['--drain-seconds', 'On SIGTERM, seconds to let in-flight requests finish (default 30)'],
      ['--workers', 'Worker processes (default 1); with more, this process accepts and hands connections out'],
      ['--balance', "With --workers: 'address' (default) keeps each client address on one worker, so its generation pins hold; 'connection' spreads connections round robin (pins then hold per connection)"],
      ['--cache-mb', 'MiB of file bodies each process keeps in memory (default 128; files up to 4 MiB; 0: none)'],
      ['--trust-proxy', 'ADDR[,CIDR...]: requests from these peers name the client in Forwarded / X-Forwarded-For (per-client pinning behind a reverse proxy or CDN)'],
    ],
    examples: ['serve --listen 0.0.0.0:8080', 'serve --listen 127.0.0.1:0 --access-log /var/log/rcurepo/access.log', 'serve --listen 0.0.0.0:8080 --workers 2'],
    async run(ctx, _args, opts) {
      const { serve } = await import('../commands/serve.js');
      const r = await serve({
        base: ctx.base(opts),
        listen: optStr(opts.listen),
        accessLog: optStr(opts['access-log']),
        drainSeconds: opts['drain-seconds'] === undefined ? undefined : Number(opts['drain-seconds']),
        workers: optInt(opts.workers, '--workers'),
        balance: optStr(opts.balance) as 'address' | 'connection' | undefined,
        cacheBytes: opts['cache-mb'] === undefined ? undefined : optInt(opts['cache-mb'], '--cache-mb')! * 1024 * 1024,
        trustProxy: optStr(opts['trust-proxy']),
        onListening: (url) => ctx.io.stderr(`rcurepo: serving on ${url}\n`),
      });
      if (!r.worker) ctx.io.stderr(`rcurepo: drained after ${r.requests} requests${r.forcedClose ? ' (closed lingering connections)' : ''}\n`);
    },
  },
  {
    usage: 'rsyncd-conf',
    dryRun: true,
    describe: 'Write per-repository rsync module fragments (BASE/rsyncd.d/NAME.conf, path = the concrete current snapshot) and print or write the main rsyncd.conf that includes them.',
    options: [
      ['--out', 'Write the main config here instead of printing it'],
      ['--port', 'rsyncd port'],
      ['--address', 'rsyncd listen address'],
      ['--pid-file', 'rsyncd pid file'],
      ['--log-file', 'rsyncd log file'],
    ],
    examples: ['rsyncd-conf --out /etc/rsyncd.conf', 'rsyncd-conf --port 8873 --address 127.0.0.1'],
    async run(ctx, _args, opts) {
      const { rsyncdConfCommand } = await import('../commands/rsyncd.js');
      const r = await rsyncdConfCommand({ base: ctx.base(opts), out: optStr(opts.out), port: optInt(opts.port, '--port'), address: optStr(opts.address), pidFile: optStr(opts['pid-file']), logFile: optStr(opts['log-file']), dryRun: !!opts['dry-run'] });
      ctx.emit(opts, r, () => (r.dryRun ? `dry run: would write ${[...(r.out ? [r.out] : []), ...r.fragments.map((f) => `${f.file} (${f.repo}@${f.generation})`)].join(', ') || 'nothing'}\n${r.config}` : r.out ? `wrote ${r.out}; ${r.fragments.length} module fragment(s): ${r.fragments.map((f) => `${f.repo}@${f.generation}`).join(', ')}` : r.config));
    },
  },
  {
    usage: 'rsync-hook <which>',
    describe: '(internal) rsyncd pre-xfer/post-xfer exec: lease or release the generation a transfer reads.',
    examples: ['rsync-hook pre', 'rsync-hook post'],
    async run(ctx, [which], opts) {
      const { rsyncHookCommand } = await import('../commands/rsyncd.js');
      const r = await rsyncHookCommand({ base: ctx.base(opts), which: which!, env: ctx.io.env });
      if (opts.json) ctx.emit(opts, r, () => '');
    },
  },
];
