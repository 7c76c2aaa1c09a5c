/**
 * `rcurepo with-snapshot REPO [--gen N] -- COMMAND...`: lease a generation, run COMMAND inside its
 * concrete snapshot (cwd and RCUREPO_SNAPSHOT), renew the lease while it runs, release it at the end.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { openBase } from '../engine/repo.js';
import { acquireLease, releaseLease, renewLease } from '../readers/leases.js';
import { maxTtl } from '../readers/leases.js';
import { RcuError } from '../util/errors.js';

export interface WithSnapshotResult {
  repo: string;
  generation: number;
  lease: string;
  exitCode: number;
  signal: string | null;
}

const TTL = 300;

export async function withSnapshot(o: { base: string; repo: string; gen?: number; command: string[]; env: NodeJS.ProcessEnv; holder?: string }): Promise<WithSnapshotResult> {
  if (o.command.length === 0) throw new RcuError('USAGE', 'with-snapshot needs a command after --');
  const layout = await openBase(o.base);
  const ttl = Math.min(TTL, await maxTtl(layout.repo(o.repo)));
  // The lease carries our pid: if we are killed, it dies with us instead of pinning the snapshot for TTL.
  const lease = await acquireLease(layout, o.repo, { gen: o.gen, ttlSeconds: ttl, pid: process.pid, holder: o.holder ?? `with-snapshot: ${o.command.join(' ').slice(0, 200)}` });
  const id = lease.record.id;
  const renew = setInterval(() => {
    renewLease(layout, id, ttl).catch(() => undefined); // a failed renewal is retried next period
  }, (ttl * 1000) / 3);
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  const child = spawn(o.command[0]!, o.command.slice(1), {
    cwd: lease.path,
    stdio: 'inherit',
    env: { ...o.env, RCUREPO_SNAPSHOT: lease.path, RCUREPO_GENERATION: String(lease.record.generation), RCUREPO_LEASE: id },
  });
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, forward);
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }).catch((e: NodeJS.ErrnoException) => {
      throw new RcuError(e.code === 'ENOENT' ? 'NOT_FOUND' : 'FAILURE', `cannot run '${o.command[0]}': ${e.message}`);
    });
    const exitCode = code ?? 128 + (signal ? os.constants.signals[signal] : 0);
    return { repo: o.repo, generation: lease.record.generation, lease: id, exitCode, signal };
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, forward);
    clearInterval(renew);
    await releaseLease(layout, id);
  }
}
