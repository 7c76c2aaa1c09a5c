/**
 * Child process for test/lock.test.ts. Run: node --import tsx test/helpers/lock-child.ts MODE ...
 * Every report is one JSON line on stdout.
 *
 *   hold TARGET [STALE_MS]                 acquire, report {event:'held'}, then wait for "release" on stdin
 *   block TARGET STALE_MS BLOCK_MS         acquire, report held, busy-wait BLOCK_MS (event loop blocked),
 *                                          then report assertHeld()/compromised, release, report the lock
 *   compromise TARGET STALE_MS             acquire, report held, wait for "go" on stdin, idle 3*STALE_MS,
 *                                          report compromised/assertHeld (the parent damages the lock)
 *   race TARGET LOG ITER STALE_MS          report ready, wait for "go"; ITER times: acquire, append
 *                                          "enter PID"/"exit PID" around a short sleep, then plant a stale
 *                                          lock in place of our own (foreign host + old mtime, or this host +
 *                                          a pid that cannot exist) and release (must leave the planted lock)
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { acquireWriterLock, lockDirOf, readLockHolder } from '../../src/engine/lock.js';

const report = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const stdinLines: string[] = [];
const stdinWaiters: Array<(l: string) => void> = [];
createInterface({ input: process.stdin }).on('line', (l) => {
  const w = stdinWaiters.shift();
  if (w) w(l);
  else stdinLines.push(l);
});
function nextLine(): Promise<string> {
  const l = stdinLines.shift();
  if (l !== undefined) return Promise.resolve(l);
  return new Promise((r) => stdinWaiters.push(r));
}

function errInfo(e: unknown): { code?: unknown; message: string } | null {
  if (e === undefined) return null;
  return { code: (e as { code?: unknown }).code, message: e instanceof Error ? e.message : String(e) };
}

/** A stale lock directory as a crashed or frozen holder would leave it. */
export async function plantStaleLock(target: string, kind: 'foreign' | 'deadpid'): Promise<boolean> {
  const lockDir = lockDirOf(target);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `plant-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(tmp);
  const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()); // never a valid pid
  const rec = {
    pid: kind === 'foreign' ? 4242 : pidMax,
    user: 'ghost',
    host: kind === 'foreign' ? 'elsewhere.invalid' : os.hostname(),
    operation: 'planted',
    since: new Date(Date.now() - 3_600_000).toISOString(),
    token: randomBytes(16).toString('hex'),
    staleMs: 1000,
  };
  await fsp.writeFile(path.join(tmp, 'holder.json'), JSON.stringify(rec));
  if (kind === 'foreign') {
    const old = new Date(Date.now() - 3_600_000);
    await fsp.utimes(tmp, old, old);
  }
  const trash = `${tmp}-old`;
  let planted = false;
  try {
    await fsp.rename(lockDir, trash).catch(() => undefined);
    await fsp.rename(tmp, lockDir);
    planted = true;
  } catch {
    // someone acquired in the gap: no stale lock this time
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.rm(trash, { recursive: true, force: true });
  }
  return planted;
}

async function main(): Promise<void> {
  const [mode, target, ...rest] = process.argv.slice(2);
  if (!mode || !target) throw new Error('usage: lock-child MODE TARGET ...');
  switch (mode) {
    case 'hold': {
      const staleMs = rest[0] ? Number(rest[0]) : undefined;
      const lock = await acquireWriterLock(target, { operation: 'import', waitSeconds: 10, ...(staleMs ? { staleMs } : {}) });
      report({ event: 'held', holder: lock.holder });
      for (;;) {
        const l = await nextLine();
        if (l === 'release') break;
      }
      await lock.release();
      report({ event: 'released' });
      process.exit(0);
      break;
    }
    case 'block': {
      const staleMs = Number(rest[0]);
      const blockMs = Number(rest[1]);
      const lock = await acquireWriterLock(target, { operation: 'import', waitSeconds: 10, staleMs });
      report({ event: 'held', holder: lock.holder });
      const end = Date.now() + blockMs;
      while (Date.now() < end) {
        /* event loop blocked: no refresh can run */
      }
      let assertError: unknown;
      try {
        await lock.assertHeld();
      } catch (e) {
        assertError = e;
      }
      const compromised = lock.compromised;
      await lock.release();
      const after = await readLockHolder(target);
      report({ event: 'result', assertError: errInfo(assertError), compromised, after: after ?? null, mine: lock.holder });
      process.exit(0);
      break;
    }
    case 'compromise': {
      const staleMs = Number(rest[0]);
      const lock = await acquireWriterLock(target, { operation: 'import', waitSeconds: 10, staleMs });
      report({ event: 'held', holder: lock.holder });
      await nextLine();
      await sleep(3 * staleMs);
      const compromised = lock.compromised;
      let assertError: unknown;
      try {
        await lock.assertHeld();
      } catch (e) {
        assertError = e;
      }
      await lock.release();
      report({ event: 'result', compromised, assertError: errInfo(assertError) });
      process.exit(0);
      break;
    }
    case 'race': {
      const [log, iterS, staleS] = rest;
      if (!log || !iterS || !staleS) throw new Error('race: missing arguments');
      const iterations = Number(iterS);
      const staleMs = Number(staleS);
      report({ event: 'ready' });
      await nextLine();
      let planted = 0;
      let lostAfterPlant = 0;
      for (let i = 0; i < iterations; i++) {
        const lock = await acquireWriterLock(target, { operation: 'race', waitSeconds: 15, staleMs });
        fs.appendFileSync(log, `enter ${process.pid}\n`);
        await sleep(10 + Math.random() * 10);
        await lock.assertHeld(); // must still be ours: nobody may take over a live, fresh lock
        fs.appendFileSync(log, `exit ${process.pid}\n`);
        if (await plantStaleLock(target, (process.pid + i) % 2 === 0 ? 'foreign' : 'deadpid')) planted++;
        await lock.release(); // not ours any more: must leave the planted (or a new owner's) lock alone
        if (lock.compromised) lostAfterPlant++;
      }
      report({ event: 'done', planted, lostAfterPlant });
      process.exit(0);
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

process.on('uncaughtException', (e) => {
  report({ event: 'crash', error: errInfo(e) });
  process.exit(3);
});
process.on('unhandledRejection', (e) => {
  report({ event: 'crash', error: errInfo(e) });
  process.exit(4);
});
main().catch((e: unknown) => {
  report({ event: 'error', error: errInfo(e) });
  process.exit(2);
});
