import { afterEach, test } from 'node:test';
import { track } from './helpers/children.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { acquireWriterLock, lockDirOf, readLockHolder, type LockHolder } from '../src/engine/lock.js';
import { isRcuError } from '../src/util/errors.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'lock-child.ts');

async function tempTarget(): Promise<{ dir: string; target: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'rcurepo-lock-'));
  return { dir, target: path.join(dir, 'lock') };
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  next(event?: string): Promise<Record<string, unknown>>;
  send(line: string): void;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Children of the running test; any still alive when it ends (a failed assertion) are killed. */
const running = new Set<ChildProcessWithoutNullStreams>();
afterEach(() => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  running.clear();
});

function startChild(args: string[]): Child {
  const proc = track(spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  running.add(proc);
  const queue: Record<string, unknown>[] = [];
  const waiters: Array<{ event: string | undefined; resolve: (o: Record<string, unknown>) => void; reject: (e: Error) => void }> = [];
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      const idx = queue.findIndex((o) => w.event === undefined || o['event'] === w.event);
      if (idx >= 0) {
        const [o] = queue.splice(idx, 1);
        waiters.splice(i--, 1);
        w.resolve(o!);
      }
    }
  };
  createInterface({ input: proc.stdout }).on('line', (l) => {
    try {
      queue.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      queue.push({ event: 'noise', line: l });
    }
    deliver();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      // let stdout drain before failing waiters
      setTimeout(() => {
        for (const w of waiters.splice(0)) w.reject(new Error(`child exited (${code ?? signal}) before "${w.event}": ${JSON.stringify(queue)} ${err}`));
      }, 50);
      resolve({ code, signal });
    });
  });
  return {
    proc,
    next: (event) =>
      new Promise((resolve, reject) => {
        waiters.push({ event, resolve, reject });
        deliver();
      }),
    send: (line) => proc.stdin.write(line + '\n'),
    exit,
    stderr: () => err,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

test('acquire, release, busy with holder details, waiter gets the lock after release', async () => {
  const { dir, target } = await tempTarget();
  try {
    const a = await acquireWriterLock(target, { operation: 'import', waitSeconds: 0 });
    assert.equal(a.holder.pid, process.pid);
    assert.equal(a.holder.operation, 'import');
    assert.equal(a.compromised, false);
    assert.ok(fs.statSync(lockDirOf(target)).isDirectory());
    assert.deepEqual(await readLockHolder(target), a.holder);
    await a.assertHeld();
    await a.release();
    assert.equal(fs.existsSync(lockDirOf(target)), false);
    assert.equal(await readLockHolder(target), undefined);
    await a.release(); // idempotent

    // A child holds it; we are refused at once, with its details.
    const child = startChild(['hold', target]);
    const held = await withTimeout(child.next('held'), 60_000, 'child held');
    const h = held['holder'] as LockHolder;
    assert.equal(typeof h.pid, 'number');
    assert.equal(h.pid, child.proc.pid);
    const t0 = Date.now();
    await assert.rejects(acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 }), (e: unknown) => {
      assert.ok(isRcuError(e, 'BUSY'), String(e));
      assert.equal(e.message, `repository busy: lock held by pid ${h.pid} (${h.user}@${h.host}, import since ${h.since})`);
      assert.deepEqual((e.data as { holder: LockHolder }).holder, h);
      return true;
    });
    assert.ok(Date.now() - t0 < 1000, 'waitSeconds:0 fails at once');

    // Bounded wait: BUSY after about waitSeconds, onWait called exactly once with the holder.
    const waitedFor: Array<LockHolder | undefined> = [];
    const t1 = Date.now();
    await assert.rejects(
      acquireWriterLock(target, { operation: 'gc', waitSeconds: 0.5, onWait: (x) => waitedFor.push(x) }),
      (e: unknown) => isRcuError(e, 'BUSY'),
    );
    const waited = Date.now() - t1;
    assert.ok(waited >= 450 && waited < 2000, `waited ${waited} ms`);
    assert.equal(waitedFor.length, 1);
    assert.equal(waitedFor[0]?.token, h.token);

    // A waiting acquirer gets it once the child releases.
    const calls: Array<LockHolder | undefined> = [];
    const pending = acquireWriterLock(target, { operation: 'gc', waitSeconds: 10, onWait: (x) => calls.push(x) });
    await new Promise((r) => setTimeout(r, 300));
    child.send('release');
    await withTimeout(child.next('released'), 10_000, 'child released');
    const b = await withTimeout(pending, 10_000, 'waiter acquires');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.pid, h.pid);
    assert.equal((await readLockHolder(target))?.token, b.holder.token);
    assert.equal((await child.exit).code, 0);
    await b.release();
    // nothing left next to the target but (possibly) nothing at all
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('a holder killed with SIGKILL is recovered at once (well under staleMs)', async () => {
  const { dir, target } = await tempTarget();
  try {
    const child = startChild(['hold', target]); // default staleMs 30 s
    const held = await withTimeout(child.next('held'), 60_000, 'child held');
    assert.equal((held['holder'] as LockHolder).pid, child.proc.pid);
    await assert.rejects(acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 }), (e: unknown) => isRcuError(e, 'BUSY'));
    child.proc.kill('SIGKILL');
    assert.equal((await child.exit).signal, 'SIGKILL');
    assert.ok(fs.existsSync(lockDirOf(target)), 'the dead holder left its lock behind');
    const t0 = Date.now();
    const lock = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 5 });
    const took = Date.now() - t0;
    assert.ok(took < 1000, `recovery took ${took} ms`);
    await lock.assertHeld();
    await lock.release();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('stale records: reused pid, other boot, foreign host with old mtime, fresh foreign lock stays', async () => {
  const { dir, target } = await tempTarget();
  const lockDir = lockDirOf(target);
  const plant = async (rec: Record<string, unknown>, ageMs = 0) => {
    await fsp.rm(lockDir, { recursive: true, force: true });
    await fsp.mkdir(lockDir);
    await fsp.writeFile(path.join(lockDir, 'holder.json'), JSON.stringify(rec));
    const t = new Date(Date.now() - ageMs);
    await fsp.utimes(lockDir, t, t);
  };
  const base = { user: 'u', operation: 'import', since: new Date().toISOString(), token: 'x'.repeat(32), staleMs: 30_000 };
  try {
    // Our own (live) pid with another start time: the pid was reused, the holder is dead.
    await plant({ ...base, pid: process.pid, host: os.hostname(), startTime: '1' });
    let l = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 });
    await l.release();
    // Same host, other boot.
    await plant({ ...base, pid: process.pid, host: os.hostname(), bootId: 'not-this-boot' });
    l = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 });
    await l.release();
    // Another host, not refreshed for longer than its staleMs.
    await plant({ ...base, pid: 1, host: 'elsewhere.invalid' }, 60_000);
    l = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 });
    await l.release();
    // Another host, fresh: busy (we cannot check its pid).
    await plant({ ...base, pid: 1, host: 'elsewhere.invalid' });
    await assert.rejects(acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 }), (e: unknown) => {
      assert.ok(isRcuError(e, 'BUSY'));
      assert.match(e.message, /pid 1 \(u@elsewhere\.invalid, import since /);
      return true;
    });
    // Our own live pid with the right start time (no startTime recorded): alive, busy.
    await plant({ ...base, pid: process.pid, host: os.hostname() });
    await assert.rejects(acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 }), (e: unknown) => isRcuError(e, 'BUSY'));
    // No readable record, fresh: busy; old: stale.
    await fsp.rm(lockDir, { recursive: true, force: true });
    await fsp.mkdir(lockDir);
    await fsp.writeFile(path.join(lockDir, 'holder.json'), 'garbage');
    await assert.rejects(acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 }), (e: unknown) => {
      assert.ok(isRcuError(e, 'BUSY'));
      assert.match(e.message, /unknown holder/);
      return true;
    });
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(lockDir, old, old);
    l = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 });
    await l.release();
    // An abandoned takeover mutex of a dead process does not block takeovers.
    await fsp.writeFile(`${target}.lock.takeover`, JSON.stringify({ ...base, pid: Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')), host: os.hostname() }));
    await plant({ ...base, pid: 1, host: 'elsewhere.invalid' }, 60_000);
    l = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0 });
    await l.release();
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('race: 10 processes taking over stale locks repeatedly never overlap', async () => {
  const { dir, target } = await tempTarget();
  const log = path.join(dir, 'critical.log');
  const N = 10;
  const ITER = 4;
  try {
    fs.writeFileSync(log, '');
    const children = Array.from({ length: N }, () => startChild(['race', target, log, String(ITER), '3000']));
    // Generous: ten tsx processes starting on a loaded 2-CPU machine; the race itself is what is tested.
    await withTimeout(Promise.all(children.map((c) => c.next('ready'))), 60_000, 'children ready');
    // Start from a stale lock (foreign host, old mtime), so the first acquisition is a takeover race.
    await fsp.mkdir(lockDirOf(target));
    await fsp.writeFile(
      path.join(lockDirOf(target), 'holder.json'),
      JSON.stringify({ pid: 1, user: 'u', host: 'elsewhere.invalid', operation: 'import', since: '2000-01-01T00:00:00.000Z', token: 't', staleMs: 1000 }),
    );
    const old = new Date(Date.now() - 3_600_000);
    await fsp.utimes(lockDirOf(target), old, old);
    for (const c of children) c.send('go');
    const results = await withTimeout(Promise.all(children.map((c) => c.next('done'))), 90_000, 'race done');
    const exits = await Promise.all(children.map((c) => c.exit));
    for (const [i, e] of exits.entries()) assert.equal(e.code, 0, children[i]!.stderr());

    const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 2 * N * ITER);
    let inside: string | undefined;
    for (const [i, line] of lines.entries()) {
      const [what, pid] = line.split(' ');
      if (what === 'enter') {
        assert.equal(inside, undefined, `line ${i}: ${line} while ${inside} is inside`);
        inside = pid;
      } else {
        assert.equal(what, 'exit');
        assert.equal(pid, inside, `line ${i}: ${line} but ${inside} is inside`);
        inside = undefined;
      }
    }
    let planted = 0;
    for (const r of results) {
      planted += r['planted'] as number;
      // after planting, release() found the lock was not ours (and removed nothing)
      assert.equal(r['lostAfterPlant'], ITER);
    }
    // Most iterations must have left a stale lock for the others to take over, or the test proves little.
    assert.ok(planted >= (N * ITER * 3) / 4, `planted ${planted}`);
    // The last planted lock is still there, untouched by the releases.
    const last = await readLockHolder(target);
    assert.equal(last?.operation, 'planted');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('a holder whose event loop is blocked past staleMs is taken over, then knows it lost the lock', async () => {
  const { dir, target } = await tempTarget();
  try {
    const child = startChild(['block', target, '1000', '3000']);
    const held = await withTimeout(child.next('held'), 60_000, 'child held');
    const theirs = held['holder'] as LockHolder;
    const t0 = Date.now();
    const lock = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 10, staleMs: 1000 });
    const took = Date.now() - t0;
    assert.ok(took < 2800, `took over after ${took} ms, while the holder was still blocked`);
    assert.notEqual(lock.holder.token, theirs.token);
    const res = await withTimeout(child.next('result'), 10_000, 'child result');
    assert.equal((await child.exit).code, 0, child.stderr());
    const ae = res['assertError'] as { code: string; message: string } | null;
    assert.ok(ae, 'assertHeld() threw');
    assert.equal(ae.code, 'FAILURE');
    assert.match(ae.message, /^lost the writer lock/);
    assert.match(ae.message, new RegExp(`taken over by pid ${process.pid}`));
    assert.equal(res['compromised'], true);
    // Its release() left our lock alone.
    assert.equal((res['after'] as LockHolder | null)?.token, lock.holder.token);
    assert.equal((await readLockHolder(target))?.token, lock.holder.token);
    await lock.assertHeld();
    assert.equal(lock.compromised, false);
    await lock.release();
    assert.equal(fs.existsSync(lockDirOf(target)), false);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('a compromised lock is reported, never thrown from a timer (the holder survives)', async () => {
  const { dir, target } = await tempTarget();
  try {
    // Case 1: the lock directory disappears under the holder.
    const c1 = startChild(['compromise', target, '400']);
    await withTimeout(c1.next('held'), 60_000, 'held');
    await fsp.rename(lockDirOf(target), path.join(dir, 'gone'));
    c1.send('go');
    const r1 = await withTimeout(c1.next('result'), 10_000, 'result');
    assert.equal((await c1.exit).code, 0, c1.stderr());
    assert.equal(r1['compromised'], true, 'the refresh timer noticed');
    assert.equal((r1['assertError'] as { code: string } | null)?.code, 'FAILURE');
    assert.equal(fs.existsSync(lockDirOf(target)), false);

    // Case 2: replaced by another owner's lock; the old holder's refreshes and release leave it alone.
    const c2 = startChild(['compromise', target, '400']);
    await withTimeout(c2.next('held'), 60_000, 'held');
    await fsp.rename(lockDirOf(target), path.join(dir, 'gone2'));
    const mine = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 0, staleMs: 400 });
    c2.send('go');
    const r2 = await withTimeout(c2.next('result'), 10_000, 'result');
    assert.equal((await c2.exit).code, 0, c2.stderr());
    assert.equal(r2['compromised'], true);
    assert.match((r2['assertError'] as { message: string }).message, /taken over by pid/);
    assert.equal((await readLockHolder(target))?.token, mine.holder.token);
    await mine.assertHeld();
    await mine.release();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});
