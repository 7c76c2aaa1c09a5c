/**
 * Mirror pushes over a real sshd on 127.0.0.1 (started here with its own keys and config) and to a local
 * path: files and eopkg repositories, restricted keys, bad targets, continuous pushes killed with -9 while
 * HTTP and rsync readers on the mirror side check every tree they fetch, and a mirror that goes away and
 * comes back. Needs root and openssh-server: skipped loudly otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIN, ROOT, tempDir } from './helpers/cli.js';
import { freePort, makeRepo, must, randomFile, readerLeases } from './helpers/readers-fixture.js';
import { checkSums, listFiles } from './helpers/tree-check.js';
import { keygen, killTree, makeSshd, sshdRefusal } from './helpers/sshd.js';
import type { Sshd } from './helpers/sshd.js';
import { mountTmpfs } from './helpers/mounts.js';
import { skipReason } from './helpers/children.js';

const refusal = sshdRefusal();
const skip = refusal ? skipReason(`mirror tests over ssh: ${refusal}`) : false;

let dir: string;
let sshd: Sshd | undefined;
let pushKey: { key: string; pub: string };
let gateKey: { key: string; pub: string };
let strangerKey: { key: string; pub: string };
const children = new Set<ChildProcess>();

before(async () => {
  if (skip) return;
  dir = tempDir('rcurepo-mirror-');
  pushKey = keygen(path.join(dir, 'push_ed25519'));
  gateKey = keygen(path.join(dir, 'gate_ed25519'));
  strangerKey = keygen(path.join(dir, 'stranger_ed25519'));
  sshd = makeSshd(path.join(dir, 'sshd'), await freePort());
  fs.writeFileSync(sshd.authorizedKeys, `${pushKey.pub}\n`);
  await sshd.start();
});

after(async () => {
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) killTree(c.pid);
  await sshd?.stop();
});

const sha = (alg: string, b: Buffer | string) => createHash(alg).update(b).digest('hex');

function sshTo(p: string): string {
  return `ssh://root@127.0.0.1:${sshd!.port}${p}`;
}
function sshOpts(): string[] {
  return sshd!.clientOptions.flatMap((o) => ['--ssh-option', o]);
}

/** What a failed command must leave unchanged on the repository host. */
function repoSnapshot(repoDir: string): string {
  const leases = readerLeases(repoDir).map((l) => l.file);
  return JSON.stringify({ current: fs.readlinkSync(path.join(repoDir, 'current')), snapshots: fs.readdirSync(path.join(repoDir, 'snapshots')).sort(), leases, config: fs.readFileSync(path.join(repoDir, 'repo.json'), 'utf8') });
}

function servedGen(mirror: string): number {
  return Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(mirror, 'current')))![1]);
}

/**
 * The mirror's snapshots folder once the background spare maker of the last push is done: its entries,
 * after checking that a spare is only ever of the served snapshot and holds exactly its files.
 */
async function settledSnapshots(mirror: string): Promise<string[]> {
  const dirOf = path.join(mirror, 'snapshots');
  await until('the mirror spare maker to finish', 60_000, () => !fs.readdirSync(dirOf).some((n) => n.includes('.making.')));
  const names = fs.readdirSync(dirOf).sort();
  for (const n of names.filter((x) => x.startsWith('.spare-'))) {
    assert.equal(n, `.spare-${servedGen(mirror)}`, 'a spare is of the served snapshot only');
    assert.deepEqual([...checkSums(path.join(dirOf, n)).entries()].sort(), [...checkSums(path.join(mirror, 'current')).entries()].sort(), 'the spare holds the served files');
  }
  return names;
}

/** eopkg trees: the index's sha1sum companion matches, and every package it names has its size and sha1. */
function checkEopkgTree(root: string): number {
  const xml = fs.readFileSync(path.join(root, 'eopkg-index.xml'));
  const want = fs.readFileSync(path.join(root, 'eopkg-index.xml.sha1sum'), 'utf8').trim().split(/\s+/)[0];
  if (sha('sha1', xml) !== want) throw new Error(`${root}: eopkg-index.xml does not match its .sha1sum`);
  let n = 0;
  for (const m of xml.toString('utf8').matchAll(/<PackageSize>(\d+)<\/PackageSize>\s*<PackageHash>([0-9a-f]{40})<\/PackageHash>\s*<PackageURI>([^<]+)<\/PackageURI>/g)) {
    const body = fs.readFileSync(path.join(root, m[3]!));
    if (body.length !== Number(m[1]) || sha('sha1', body) !== m[2]) throw new Error(`${root}/${m[3]}: size or sha1 differs from the index`);
    n++;
  }
  return n;
}

function cliIn(base: string) {
  return (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, '--base', base, ...args], { encoding: 'utf8', cwd: ROOT });
    return { code: r.status, status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

function runAsync(base: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(process.execPath, [BIN, '--base', base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, out });
    }),
  );
  return { child, done };
}

test('files repository over ssh: only changed bytes cross, unchanged files are hard links, current swapped, status', { skip, timeout: 60_000 }, async () => {
  const fx = makeRepo('r', { 'big/a.bin': randomFile(400_000), 'big/b.bin': randomFile(400_000), 'small.txt': 'one\n' });
  const mirror = path.join(dir, 'm-files');
  must(fx.cli.sync(['config', 'r', 'mirrorPushAfterPublish', 'false'])); // this test pushes by hand
  must(fx.cli.sync(['mirror', 'add', 'r', 'eu1', '--to', sshTo(mirror), '--identity', pushKey.key, '--keep', '2', '--grace', '0', ...sshOpts()]));
  const first = fx.cli.json<{ outcomes: Array<{ status: string; generation: number; stats: { bytesSent: number } }> }>(['mirror', 'push', 'r']);
  assert.equal(first.outcomes[0]!.status, 'pushed');
  assert.ok(first.outcomes[0]!.stats.bytesSent > 800_000, 'first push sends everything');
  checkSums(path.join(mirror, 'current'));
  // After the push, in the background, the mirror makes a flushed hard-link copy of what it serves ...
  const g1 = first.outcomes[0]!.generation;
  assert.ok((await settledSnapshots(mirror)).includes(`.spare-${g1}`), 'a spare of the served snapshot');
  const spareIno = fs.statSync(path.join(mirror, 'snapshots', `.spare-${g1}`)).ino;
  assert.equal(fs.statSync(path.join(mirror, 'snapshots', `.spare-${g1}`, 'big/a.bin')).ino, fs.statSync(path.join(mirror, 'current', 'big/a.bin')).ino, 'its files are hard links');

  const src = path.join(fx.dir, 'changed');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'small.txt'), 'two\n');
  must(fx.cli.sync(['import', 'r', src, '--replace']));
  // The same size, and (forced here) a modification time in the same second as the file it replaces:
  // rsync's quick check (size and whole seconds by default) must still see the change.
  const oldMtime = fs.statSync(path.join(fx.repoDir, 'snapshots', String(first.outcomes[0]!.generation), 'small.txt')).mtimeMs / 1000;
  const sameSecond = Math.floor(oldMtime) + (oldMtime % 1 < 0.5 ? 0.75 : 0.25);
  fs.utimesSync(path.join(fx.repoDir, 'current', 'small.txt'), sameSecond, sameSecond);
  const second = fx.cli.json<{ outcomes: Array<{ status: string; generation: number; previous: number; stats: { bytesSent: number; literalBytes: number; fileListBytes: number } }> }>(['mirror', 'push', 'r']);
  const o = second.outcomes[0]!;
  assert.equal(o.status, 'pushed');
  assert.equal(o.previous, first.outcomes[0]!.generation);
  assert.ok(o.stats.bytesSent < 20_000, `one small change sent ${o.stats.bytesSent} bytes`);
  const cur = path.join(mirror, 'current');
  checkSums(cur);
  assert.equal(fs.readFileSync(path.join(cur, 'small.txt'), 'utf8'), 'two\n');
  const prev = path.join(mirror, 'snapshots', String(o.previous));
  assert.equal(fs.statSync(path.join(cur, 'big/a.bin')).ino, fs.statSync(path.join(prev, 'big/a.bin')).ino, 'unchanged file is a hard link to the previous snapshot');
  assert.equal(fs.readFileSync(path.join(prev, 'small.txt'), 'utf8'), 'one\n', 'the previous snapshot is untouched');
  // ... which the next push took as its starting tree (one rename) instead of copying the tree again.
  assert.equal(fs.statSync(path.join(mirror, 'snapshots', String(o.generation))).ino, spareIno, 'the second push started from the spare');
  assert.deepEqual((await settledSnapshots(mirror)).filter((n) => n.startsWith('.')), [`.spare-${o.generation}`]);

  // Idempotent: nothing new, nothing sent.
  const again = fx.cli.json<{ outcomes: Array<{ status: string }> }>(['mirror', 'push', 'r']);
  assert.equal(again.outcomes[0]!.status, 'up-to-date');

  // keep 2, grace 0: the third push prunes the first snapshot.
  fx.publish({ 'third.txt': '3\n' });
  must(fx.cli.sync(['mirror', 'push', 'r', 'eu1']));
  const snaps = fs.readdirSync(path.join(mirror, 'snapshots')).filter((n) => /^[0-9]+$/.test(n));
  assert.deepEqual(snaps.map(Number).sort((a, b) => a - b), [o.generation, o.generation + 1]);

  const st = fx.cli.json<{ mirrors: Array<{ mirror: string; served: number; current: number; behind: number; state: { lastPush: { bytesSent: number; durationMs: number }; lastError: unknown } }> }>(['mirror', 'status', 'r']);
  assert.equal(st.mirrors[0]!.served, st.mirrors[0]!.current);
  assert.equal(st.mirrors[0]!.behind, 0);
  assert.ok(st.mirrors[0]!.state.lastPush.bytesSent > 0 && st.mirrors[0]!.state.lastPush.durationMs > 0);
  assert.equal(st.mirrors[0]!.state.lastError, null);
  fx.publish({ 'fourth.txt': '4\n' });
  const behind = fx.cli.json<{ mirrors: Array<{ behind: number; behindSince: string }> }>(['mirror', 'status', 'r']);
  assert.equal(behind.mirrors[0]!.behind, 1);
  assert.ok(behind.mirrors[0]!.behindSince);
  const human = must(fx.cli.sync(['mirror', 'status'])).stdout;
  assert.match(human, /eu1\s+\S+\s+\S+\s+1 gen since/);
  // Leases taken for the pushes are gone.
  assert.deepEqual(readerLeases(fx.repoDir), []);
});

test('eopkg repository to a local path and over ssh; a mirror bound to another repository is refused', { skip, timeout: 60_000 }, async () => {
  const fixtures = path.join(ROOT, 'fixtures', 'eopkg');
  const tmp = tempDir('rcurepo-mirror-eopkg-');
  const base = path.join(tmp, 'base');
  const cli = cliIn(base);
  must(cli(['init']));
  must(cli(['create-repo', 'e', '--format', 'eopkg']));
  must(cli(['config', 'e', 'gcAfterPublish', 'false']));
  must(cli(['config', 'e', 'mirrorPushAfterPublish', 'false']));
  const pkgs = fs.readdirSync(fixtures).filter((f) => f.endsWith('.eopkg') && !f.includes('delta'));
  must(cli(['import', 'e', ...pkgs.slice(0, 6).map((f) => path.join(fixtures, f))]));
  const local = path.join(tmp, 'local-mirror');
  const remote = path.join(dir, 'm-eopkg');
  must(cli(['mirror', 'add', 'e', 'disk', '--to', local]));
  must(cli(['mirror', 'add', 'e', 'net', '--to', sshTo(remote), '--identity', pushKey.key, ...sshOpts()]));
  must(cli(['mirror', 'push', 'e']));
  const listed = checkEopkgTree(path.join(base, 'repos', 'e', 'current'));
  assert.ok(listed >= 3);
  assert.equal(checkEopkgTree(path.join(local, 'current')), listed);
  assert.equal(checkEopkgTree(path.join(remote, 'current')), listed);
  must(cli(['import', 'e', ...pkgs.slice(6).map((f) => path.join(fixtures, f))]));
  const out = must(cli(['mirror', 'push', 'e'])).stdout;
  assert.match(out, /disk: now serves generation 3 \(was 2\)/);
  assert.match(out, /net: now serves generation 3 \(was 2\)/);
  const all = checkEopkgTree(path.join(base, 'repos', 'e', 'current'));
  assert.ok(all > listed);
  assert.equal(checkEopkgTree(path.join(local, 'current')), all);
  assert.equal(checkEopkgTree(path.join(remote, 'current')), all);
  assert.deepEqual(listFiles(path.join(remote, 'current')).sort(), listFiles(path.join(base, 'repos', 'e', 'current')).sort());
  const first = pkgs[0]!;
  const byName = (root: string) => listFiles(root).find((f) => f.endsWith(first))!;
  const ino = (root: string) => fs.statSync(path.join(root, byName(root))).ino;
  assert.equal(ino(path.join(remote, 'current')), ino(path.join(remote, 'snapshots', '2')), 'unchanged package linked on the mirror');

  // Another repository pointed at the same mirror path is refused, and nothing changes.
  must(cli(['create-repo', 'other']));
  must(cli(['mirror', 'add', 'other', 'disk', '--to', local]));
  const r = cli(['mirror', 'push', 'other']);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /mirror 'disk' of 'other' .*mirrors repository 'e', not 'other'/);
  assert.equal(servedGen(local), 3);
});

test('an interrupted push resumes from its .partial upload; the killed pusher\'s rsync is stopped first', { timeout: 120_000 }, async () => {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) files[`f/${String(i).padStart(2, '0')}.bin`] = randomFile(400_000);
  const fx = makeRepo('p', files);
  const mirror = path.join(fx.dir, 'mirror');
  must(fx.cli.sync(['mirror', 'add', 'p', 'disk', '--to', mirror]));
  const push = runAsync(fx.base, ['mirror', 'push', 'p']);
  const partial = path.join(mirror, 'snapshots', '.2.partial', 'f');
  const until = Date.now() + 60_000;
  while (Date.now() < until && push.child.exitCode === null) {
    if (fs.existsSync(partial) && fs.readdirSync(partial).filter((n) => !n.startsWith('.')).length >= 5) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  if (push.child.exitCode !== null) {
    console.log('# the push finished before it could be interrupted: resume not exercised on this run');
    return;
  }
  push.child.kill('SIGKILL');
  await push.done;
  const uploadFile = path.join(fx.repoDir, 'meta', 'mirrors', 'disk.upload');
  const pgid = fs.existsSync(uploadFile) ? Number(fs.readFileSync(uploadFile, 'utf8')) : undefined;
  assert.ok(!fs.existsSync(path.join(mirror, 'current')), 'nothing is served before an upload completed');
  const r = fx.cli.json<{ outcomes: Array<{ status: string; stats: { bytesSent: number; totalFileBytes: number } }> }>(['mirror', 'push', 'p']);
  assert.equal(r.outcomes[0]!.status, 'pushed');
  assert.ok(r.outcomes[0]!.stats.bytesSent < 0.9 * r.outcomes[0]!.stats.totalFileBytes, `resumed push sent ${r.outcomes[0]!.stats.bytesSent} of ${r.outcomes[0]!.stats.totalFileBytes} bytes`);
  if (pgid) {
    // A stopped rsync whose parent (the killed pusher) is gone may linger as a zombie until something
    // reaps it: only a process of the group that still runs counts.
    const running = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).some((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[2]) === pgid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    });
    assert.equal(running, false, 'the killed pusher\'s rsync was stopped');
  }
  checkSums(path.join(mirror, 'current'));
  assert.deepEqual((await settledSnapshots(mirror)).filter((n) => n !== '.spare-2'), ['2']);
});

test('restricted key: the printed authorized_keys line and installed script allow a push and nothing else', { skip, timeout: 60_000 }, async () => {
  const fx = makeRepo('g', { 'a.txt': 'a\n', 'dir/b.bin': randomFile(50_000) });
  const mirror = path.join(dir, 'm-gate');
  must(fx.cli.sync(['config', 'g', 'mirrorPushAfterPublish', 'false']));
  must(fx.cli.sync(['mirror', 'add', 'g', 'gated', '--to', sshTo(mirror), '--identity', gateKey.key, '--restricted', ...sshOpts()]));
  const keys = must(fx.cli.sync(['mirror', 'authorized-keys', 'g', 'gated', '--script-path', path.join(dir, 'gate.sh')])).stdout;
  const line = keys.split('\n').find((l) => l.startsWith('command='))!;
  assert.ok(line.includes(gateKey.pub), 'the line carries the push key');
  assert.match(line, /^command="sh \S+gate\.sh \S+m-gate",restrict ssh-ed25519 /);
  fs.writeFileSync(path.join(dir, 'gate.sh'), must(fx.cli.sync(['mirror', 'authorized-keys', 'g', 'gated', '--script'])).stdout);
  fs.appendFileSync(sshd!.authorizedKeys, `${line}\n`);

  must(fx.cli.sync(['mirror', 'push', 'g']));
  checkSums(path.join(mirror, 'current'));
  fx.publish({ 'c.txt': 'c\n' });
  const o = fx.cli.json<{ outcomes: Array<{ status: string; linkedFrom: string[]; stats: { bytesSent: number } }> }>(['mirror', 'push', 'g']).outcomes[0]!;
  assert.equal(o.status, 'pushed');
  assert.deepEqual(o.linkedFrom, ['2']);
  assert.ok(o.stats.bytesSent < 5000, `sent ${o.stats.bytesSent}`);
  assert.equal(fs.statSync(path.join(mirror, 'current', 'dir/b.bin')).ino, fs.statSync(path.join(mirror, 'snapshots', '2', 'dir/b.bin')).ino);
  checkSums(path.join(mirror, 'current'));

  const ssh = (cmd: string) => spawnSync('ssh', ['-p', String(sshd!.port), '-i', gateKey.key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', ...sshd!.clientOptions.flatMap((x) => ['-o', x]), 'root@127.0.0.1', cmd], { encoding: 'utf8' });
  const shell = ssh(`touch ${mirror}/owned`);
  assert.equal(shell.status, 3);
  assert.match(shell.stdout, /^error usage /);
  assert.match(ssh('sh -c id').stdout, /error usage unknown command 'sh'/);
  assert.equal(fs.existsSync(path.join(mirror, 'owned')), false);
  const inject = ssh('activate 3;touch${IFS}/tmp/x tok');
  assert.equal(inject.status, 3);
  assert.match(inject.stdout, /error usage/);
  // Reading through rrsync is refused (write-only), and so is writing outside snapshots/.
  const read = spawnSync('rsync', ['-a', '-e', `ssh -p ${sshd!.port} -i ${gateKey.key} -o IdentitiesOnly=yes -o BatchMode=yes ${sshd!.clientOptions.map((x) => `-o ${x}`).join(' ')}`, 'root@127.0.0.1:3/', path.join(dir, 'gate-read') + '/'], { encoding: 'utf8' });
  assert.notEqual(read.status, 0);
  const escape = spawnSync('rsync', ['-a', '-e', `ssh -p ${sshd!.port} -i ${gateKey.key} -o IdentitiesOnly=yes -o BatchMode=yes ${sshd!.clientOptions.map((x) => `-o ${x}`).join(' ')}`, path.join(fx.dir, 'in') + '/', 'root@127.0.0.1:../escaped/'], { encoding: 'utf8' });
  assert.notEqual(escape.status, 0);
  assert.equal(fs.existsSync(path.join(mirror, 'escaped')), false);
});

test('bad targets: unreachable, refused key, PATH not writable, other format version: a clear error naming the mirror, nothing changes', { skip, timeout: 90_000 }, async (t) => {
  const fx = makeRepo('b', { 'x.txt': 'x\n' });
  const before = repoSnapshot(fx.repoDir);
  const closed = await freePort();
  must(fx.cli.sync(['mirror', 'add', 'b', 'down', '--to', `ssh://root@127.0.0.1:${closed}/srv/none`, '--identity', pushKey.key, ...sshOpts()]));
  must(fx.cli.sync(['mirror', 'add', 'b', 'stranger', '--to', sshTo(path.join(dir, 'm-stranger')), '--identity', strangerKey.key, ...sshOpts()]));
  const old = path.join(dir, 'm-old');
  fs.mkdirSync(path.join(old, 'snapshots'), { recursive: true });
  fs.writeFileSync(path.join(old, '.rcurepo-mirror'), 'format 2\nrepo b\n');
  must(fx.cli.sync(['mirror', 'add', 'b', 'old', '--to', sshTo(old), '--identity', pushKey.key, ...sshOpts()]));
  const configured = repoSnapshot(fx.repoDir);
  assert.notEqual(before, configured);

  let r = fx.cli.sync(['mirror', 'push', 'b', 'down']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /mirror 'down' of 'b' \(ssh:\/\/root@127\.0\.0\.1:\d+\/srv\/none\): .*the mirror is unreachable \(.*Connection refused/);
  r = fx.cli.sync(['mirror', 'push', 'b', 'stranger']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /mirror 'stranger' of 'b' .*the mirror refused the key/);
  assert.equal(fs.existsSync(path.join(dir, 'm-stranger')), false);
  r = fx.cli.sync(['mirror', 'push', 'b', 'old']);
  assert.equal(r.code, 10);
  assert.match(r.stderr, /mirror 'old' of 'b' .*format version 2; this rcurepo writes version 1/);
  assert.deepEqual(fs.readdirSync(path.join(old, 'snapshots')), []);
  // All at once: each failure reported, exit 1.
  r = fx.cli.sync(['mirror', 'push', 'b']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /3 of 3 mirrors of 'b' failed: down, old, stranger/);

  const ro = mountTmpfs(dir, '1m');
  if (typeof ro === 'string') t.diagnostic(`read-only PATH case skipped: ${ro}`);
  else {
    try {
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', ro.dir]).status, 0);
      must(fx.cli.sync(['mirror', 'add', 'b', 'ro', '--to', sshTo(path.join(ro.dir, 'mirror')), '--identity', pushKey.key, ...sshOpts()]));
      must(fx.cli.sync(['mirror', 'add', 'b', 'rolocal', '--to', path.join(ro.dir, 'mirror')]));
      for (const name of ['ro', 'rolocal']) {
        r = fx.cli.sync(['mirror', 'push', 'b', name]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`mirror '${name}' of 'b' .*the mirror path is not writable`));
      }
      must(fx.cli.sync(['mirror', 'remove', 'b', 'ro']));
      must(fx.cli.sync(['mirror', 'remove', 'b', 'rolocal']));
    } finally {
      ro.unmount();
    }
  }
  assert.equal(repoSnapshot(fx.repoDir), configured, 'nothing changed on the repository host');
  const st = fx.cli.json<{ mirrors: Array<{ mirror: string; state: { lastError: { message: string } } }> }>(['mirror', 'status', 'b']);
  assert.match(st.mirrors.find((m) => m.mirror === 'down')!.state.lastError.message, /unreachable/);
});

/** A tiny HTTP server on the mirror: resolves each path once and names the concrete file it served. */
const HTTP_SERVER = `
import functools, http.server, os, sys
root = os.path.realpath(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, p):
        self.resolved = os.path.realpath(super().translate_path(p))
        return self.resolved
    def end_headers(self):
        r = getattr(self, 'resolved', '')
        if r.startswith(root):
            self.send_header('X-Resolved', r[len(root):])
        super().end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), functools.partial(H, directory=root)).serve_forever()
`;

function get(url: string): Promise<{ status: number; resolved: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, resolved: String(res.headers['x-resolved'] ?? ''), body: Buffer.concat(chunks) }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const req = http.get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
        res.resume();
        r(true);
      });
      req.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

test('continuous pushes, some killed with -9, while HTTP and rsync readers on the mirror check every tree', { skip, timeout: 200_000 }, async () => {
  const RUN_MS = 15_000;
  const content = (round: number) => ({ 'fixed/a.bin': randomFile(200_000 + round), 'fixed/b.txt': `round ${round}\n`, [`add/r${round}.bin`]: randomFile(30_000) });
  const fx = makeRepo('s', content(0));
  const mirror = path.join(dir, 'm-stress');
  must(fx.cli.sync(['config', 's', 'mirrorPushAfterPublish', 'false'])); // the pushes below are the ones killed
  must(fx.cli.sync(['mirror', 'add', 's', 'live', '--to', sshTo(mirror), '--identity', pushKey.key, '--keep', '1', '--grace', '4', ...sshOpts()]));
  must(fx.cli.sync(['mirror', 'push', 's']));

  const httpPort = await freePort();
  fs.writeFileSync(path.join(dir, 'mirror-httpd.py'), HTTP_SERVER);
  const httpd = spawn('python3', [path.join(dir, 'mirror-httpd.py'), mirror, String(httpPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let httpErr = '';
  httpd.stderr!.on('data', (d) => (httpErr += d));
  children.add(httpd);
  const rsyncPort = await freePort();
  const conf = path.join(dir, 'rsyncd.conf');
  fs.writeFileSync(conf, `port = ${rsyncPort}\naddress = 127.0.0.1\nuse chroot = no\npid file = ${path.join(dir, 'rsyncd.pid')}\n[m]\n    path = ${mirror}/current\n    read only = yes\n`);
  const rsyncd = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`], { stdio: 'ignore' });
  children.add(rsyncd);
  await waitListening(httpPort).catch((e: Error) => {
    throw new Error(`${e.message}: ${httpErr}`);
  });

  // Runs until enough pushes completed and enough were killed (this machine may be slow), within a cap.
  const capAt = Date.now() + 90_000;
  let stop = false;
  const failures: string[] = [];
  let httpTrees = 0;
  let rsyncTrees = 0;
  let pushes = 0;
  let killed = 0;
  let rounds = 0;
  try {
    const publisher = (async () => {
      for (let round = 1; !stop; round++) {
        const src = path.join(fx.dir, `src${round}`);
        for (const [p, b] of Object.entries(content(round))) {
          fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
          fs.writeFileSync(path.join(src, p), b);
        }
        const r = runAsync(fx.base, ['import', 's', src, '--replace']);
        const res = await r.done;
        if (res.code !== 0) failures.push(`publish: ${res.out}`);
        if (round > 2) await runAsync(fx.base, ['remove', 's', `add/r${round - 2}.bin`]).done;
        rounds++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const pusher = (async () => {
      let lastMs = 1000;
      for (let i = 0; Date.now() < capAt && (pushes < 4 || killed < 4 || Date.now() < capAt - 90_000 + RUN_MS); i++) {
        const t0 = Date.now();
        const p = runAsync(fx.base, ['mirror', 'push', 's']);
        // Every other push is killed at a random instant of its expected duration.
        if (i % 2 === 1) {
          const t = setTimeout(() => {
            if (p.child.exitCode === null) {
              p.child.kill('SIGKILL');
              killed++;
            }
          }, Math.random() * 0.8 * lastMs);
          await p.done;
          clearTimeout(t);
        } else {
          const res = await p.done;
          if (res.code !== 0) failures.push(`push: ${res.out}`);
          else {
            pushes++;
            lastMs = Date.now() - t0;
          }
        }
      }
      stop = true;
    })();
    const httpReader = async () => {
      while (!stop) {
        try {
          const sums = await get(`http://127.0.0.1:${httpPort}/current/SHA256SUMS`);
          if (sums.status !== 200) throw new Error(`SHA256SUMS: ${sums.status}`);
          const snap = /^\/snapshots\/([0-9]+)\/SHA256SUMS$/.exec(sums.resolved)?.[1];
          if (!snap) throw new Error(`current resolved to ${sums.resolved}`);
          for (const line of sums.body.toString('utf8').trim().split('\n')) {
            const [hash, p] = line.split('  ');
            const f = await get(`http://127.0.0.1:${httpPort}/snapshots/${snap}/${p}`);
            if (f.status !== 200 || sha('sha256', f.body) !== hash) failures.push(`http: snapshot ${snap}: ${p}: status ${f.status}, hash differs from its SHA256SUMS`);
          }
          httpTrees++;
        } catch (e) {
          failures.push(`http: ${(e as Error).message}`);
        }
      }
    };
    const rsyncReader = async () => {
      for (let i = 0; !stop; i++) {
        const dest = path.join(fx.dir, `rsync-${i}`);
        const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
          const c = spawn('rsync', ['-a', `rsync://127.0.0.1:${rsyncPort}/m/`, `${dest}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
          children.add(c);
          let err = '';
          c.stderr!.on('data', (d) => (err += d));
          c.on('close', (code) => {
            children.delete(c);
            resolve({ code, err });
          });
        });
        if (r.code !== 0) failures.push(`rsync: exit ${r.code}: ${r.err}`);
        else {
          try {
            checkSums(dest);
            rsyncTrees++;
          } catch (e) {
            failures.push(`rsync: ${(e as Error).message}`);
          }
        }
        fs.rmSync(dest, { recursive: true, force: true });
      }
    };
    await Promise.all([publisher, pusher, httpReader(), httpReader(), rsyncReader()]);
  } finally {
    killTree(httpd.pid!);
    killTree(rsyncd.pid!);
  }
  // The next push after all the kills completes, and the mirror then holds exactly the current snapshot.
  must(fx.cli.sync(['mirror', 'push', 's']));
  const cur = checkSums(path.join(mirror, 'current'));
  const local = checkSums(path.join(fx.repoDir, 'current'));
  assert.deepEqual([...cur.entries()].sort(), [...local.entries()].sort());
  assert.equal(servedGen(mirror), Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(fx.repoDir, 'current')))![1]));
  const served = servedGen(mirror);
  assert.deepEqual((await settledSnapshots(mirror)).filter((n) => n.startsWith('.') && !n.endsWith('.partial') && n !== `.spare-${served}`), [], 'no leftovers but resumable partials and the spare');
  console.log(`# ${rounds} publish rounds, ${pushes} completed pushes, ${killed} killed with -9, ${httpTrees} HTTP trees and ${rsyncTrees} rsync trees checked`);
  assert.deepEqual(failures, []);
  assert.ok(killed >= 2, `killed ${killed} pushes`);
  assert.ok(httpTrees >= 5 && rsyncTrees >= 3, `checked ${httpTrees} HTTP and ${rsyncTrees} rsync trees`);
});

/** Pids whose command line names `base` (the background children a publish started for this test's base). */
function childrenOfBase(base: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(base)) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}
const bases: string[] = [];
after(() => {
  for (const b of bases) for (const pid of childrenOfBase(b)) killTree(pid);
});

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('after each publish the mirror is pushed in the background; a mirror that is down never fails a publish, shows its error, and catches up', { skip, timeout: 150_000 }, async () => {
  const fx = makeRepo('d', { 'a.txt': 'a\n' });
  bases.push(fx.base);
  const mirror = path.join(dir, 'm-down');
  must(fx.cli.sync(['mirror', 'add', 'd', 'flaky', '--to', sshTo(mirror), '--identity', pushKey.key, ...sshOpts()]));
  const localGen = () => Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(fx.repoDir, 'current')))![1]);
  const served = () => (fs.existsSync(path.join(mirror, 'current')) ? servedGen(mirror) : 0);
  // No `mirror push`: the publish starts it.
  fx.publish({ 'b.txt': 'b\n' });
  // Done when the pusher has recorded its success, not merely when the mirror swapped `current` (its
  // session is still open then, and stopping sshd at that moment would fail the push on purpose).
  type Rec = { mirrors: Array<{ served: number }> };
  await until('the automatic push after a publish', 60_000, () => served() === localGen() && fx.cli.json<Rec>(['mirror', 'status', 'd']).mirrors[0]!.served === localGen());
  checkSums(path.join(mirror, 'current'));

  await sshd!.stop();
  try {
    const before = served();
    const t0 = Date.now();
    fx.publish({ 'c.txt': 'c\n' });
    fx.publish({ 'd.txt': 'd\n' });
    assert.ok(Date.now() - t0 < 30_000, 'publishes do not wait for the mirror');
    const r = fx.cli.sync(['mirror', 'push', 'd', '--wait', '0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /mirror 'flaky' of 'd' .*(unreachable|being pushed by|push lock|busy)/);
    type St = { mirrors: Array<{ served: number; behind: number; state: { lastError: { message: string } | null; failures?: number } }> };
    await until('the error in mirror status', 30_000, () => /unreachable/.test(fx.cli.json<St>(['mirror', 'status', 'd']).mirrors[0]!.state.lastError?.message ?? ''));
    const st = fx.cli.json<St>(['mirror', 'status', 'd']);
    assert.equal(st.mirrors[0]!.served, before);
    assert.equal(st.mirrors[0]!.behind, localGen() - before);
    assert.equal(served(), before);
  } finally {
    await sshd!.start();
  }
  // The background push retries with backoff and catches up once the mirror is back.
  await until('the background push to catch up', 90_000, () => served() === localGen());
  checkSums(path.join(mirror, 'current'));
  await until('the state to record the success', 10_000, () => fx.cli.json<{ mirrors: Array<{ behind: number; state: { lastError: unknown } }> }>(['mirror', 'status', 'd']).mirrors[0]!.state.lastError === null);
  const st = fx.cli.json<{ mirrors: Array<{ behind: number }> }>(['mirror', 'status', 'd']);
  assert.equal(st.mirrors[0]!.behind, 0);
  // Retries ran in the background child: nothing of it is left once it caught up.
  await until('the background child to exit', 30_000, () => childrenOfBase(fx.base).length === 0);
});

test('mirror push --background --retry keeps retrying a mirror that is away and catches up', { skip, timeout: 90_000 }, async () => {
  const fx = makeRepo('e', { 'a.txt': 'a\n' });
  bases.push(fx.base);
  must(fx.cli.sync(['config', 'e', 'gcAfterPublish', 'false']));
  const mirror = path.join(dir, 'm-retry');
  await sshd!.stop();
  try {
    // Added while down: the mirror-push reaction is on, but the publish below must still succeed.
    must(fx.cli.sync(['mirror', 'add', 'e', 'later', '--to', sshTo(mirror), '--identity', pushKey.key, ...sshOpts()]));
    fx.publish({ 'b.txt': 'b\n' });
    const bg = runAsync(fx.base, ['mirror', 'push', 'e', '--background', '--retry', '60']);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(bg.child.exitCode, null, 'still retrying');
  } finally {
    await sshd!.start();
  }
  await until('the retried push', 60_000, () => fs.existsSync(path.join(mirror, 'current')) && servedGen(mirror) === Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(fx.repoDir, 'current')))![1]));
  checkSums(path.join(mirror, 'current'));
});
