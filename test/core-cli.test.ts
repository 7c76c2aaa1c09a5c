/** The core commands through the real CLI: results, exit codes, messages and the trees afterwards. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cliIn, runSync, tempDir } from './helpers/cli.js';

function setup() {
  const dir = tempDir();
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  const input = path.join(dir, 'in');
  fs.mkdirSync(path.join(input, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(input, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(input, 'sub', 'b.txt'), 'beta\n');
  return { dir, base, cli, input, current: path.join(base, 'repos', 'main', 'current') };
}

function sha256sumCheck(dir: string): void {
  // coreutils refuses an empty list ("no properly formatted checksum lines"): nothing to check then.
  if (fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8') === '') return;
  execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: dir });
}

test('init is idempotent and refuses a newer layout', () => {
  const dir = tempDir();
  const base = path.join(dir, 'b');
  const cli = cliIn(base);
  const first = cli.json<{ created: boolean }>(['init']);
  assert.equal(first.created, true);
  assert.equal(cli.json<{ created: boolean }>(['init']).created, false);
  fs.writeFileSync(path.join(base, 'rcurepo-layout.json'), JSON.stringify({ layoutVersion: 99 }));
  const r = cli.sync(['list-repos']);
  assert.equal(r.code, 10);
  assert.match(r.stderr, /layout version 99, newer than this rcurepo understands/);
});

test('commands refuse a base that was never initialised', () => {
  const dir = tempDir();
  const r = cliIn(path.join(dir, 'nothing')).sync(['list-repos']);
  assert.equal(r.code, 10);
  assert.match(r.stderr, /not an rcurepo base/);
});

test('a new repository has a valid empty published snapshot', () => {
  const { cli, current } = setup();
  assert.equal(fs.readlinkSync(current), 'snapshots/1');
  assert.equal(fs.readFileSync(path.join(current, 'SHA256SUMS'), 'utf8'), '');
  assert.equal(cli.sync(['verify']).code, 0);
  const repos = cli.json<Array<{ name: string; current: number; format: string }>>(['list-repos']);
  assert.deepEqual(repos.map((r) => [r.name, r.current, r.format]), [['main', 1, 'files']]);
  const again = cli.sync(['create-repo', 'main']);
  assert.equal(again.code, 6);
  assert.match(again.stderr, /already exists/);
  assert.equal(cli.sync(['create-repo', '../evil']).code, 2);
});

test('import publishes, is idempotent, and SHA256SUMS checks with coreutils', () => {
  const { cli, input, current } = setup();
  // A spare clone would hold a second link of each blob (test/spare.test.ts counts those).
  assert.equal(cli.sync(['config', 'main', 'spareClone', 'false']).code, 0);
  const r = cli.json<{ published: boolean; generation: number; added: string[] }>(['import', 'main', input, '--prefix', 'pub']);
  assert.equal(r.published, true);
  assert.equal(r.generation, 2);
  assert.deepEqual(r.added.sort(), ['pub/a.txt', 'pub/sub/b.txt']);
  sha256sumCheck(current);
  assert.equal(fs.readFileSync(path.join(current, 'pub/a.txt'), 'utf8'), 'alpha\n');
  const again = cli.sync(['import', 'main', input, '--prefix', 'pub']);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to publish: all 2 file\(s\) already present/);
  assert.equal(fs.readlinkSync(current), 'snapshots/2');
  // Pool blobs are read-only and referenced once by the snapshot (nlink - 1 = 1).
  const st = fs.statSync(path.join(current, 'pub/a.txt'));
  assert.equal(st.mode & 0o777, 0o444);
  assert.equal(st.nlink, 2);
});

test('import with a glob pattern, then remove by folder and by glob', () => {
  const { cli, input, current, dir } = setup();
  const r = cli.sync(['import', 'main', '*.txt'], { cwd: input });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(current, 'a.txt')));
  assert.ok(!fs.existsSync(path.join(current, 'b.txt')), 'glob is not recursive');
  assert.equal(cli.sync(['import', 'main', input, '--prefix', 'x']).code, 0);
  const rm = cli.json<{ removed: string[] }>(['remove', 'main', 'x/sub']);
  assert.deepEqual(rm.removed, ['x/sub/b.txt']);
  assert.ok(!fs.existsSync(path.join(current, 'x/sub')), 'empty folders go with their files');
  const rm2 = cli.json<{ removed: string[] }>(['remove', 'main', '**/*.txt']);
  assert.deepEqual(rm2.removed.sort(), ['a.txt', 'x/a.txt']);
  sha256sumCheck(current);
  const missing = cli.sync(['remove', 'main', 'nope.txt']);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /nope\.txt/);
  void dir;
});

test('same path with different content is refused with both hashes, unless --replace', () => {
  const { cli, input, current, dir } = setup();
  assert.equal(cli.sync(['import', 'main', path.join(input, 'a.txt')]).code, 0);
  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'a.txt'), 'changed\n');
  const before = fs.readlinkSync(current);
  const r = cli.sync(['import', 'main', path.join(other, 'a.txt')]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /a\.txt: generation 2 has sha256 [0-9a-f]{64}, .* has sha256 [0-9a-f]{64}/);
  assert.equal(fs.readlinkSync(current), before);
  const rep = cli.json<{ replaced: string[]; generation: number }>(['import', 'main', path.join(other, 'a.txt'), '--replace']);
  assert.deepEqual(rep.replaced, ['a.txt']);
  assert.equal(fs.readFileSync(path.join(current, 'a.txt'), 'utf8'), 'changed\n');
  // The old generation still holds the old bytes: a replace never writes through a shared inode.
  assert.equal(fs.readFileSync(path.join(path.dirname(current), 'snapshots', '2', 'a.txt'), 'utf8'), 'alpha\n');
});

test('bad input is refused with the file and the reason, and nothing changes', () => {
  const { cli, dir, current, base } = setup();
  const bad = path.join(dir, 'bad');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'ok.txt'), 'ok');
  fs.symlinkSync('/etc/passwd', path.join(bad, 'link'));
  const poolBefore = execFileSync('find', [path.join(base, 'pool', 'blobs'), '-type', 'f']).toString();
  const r1 = cli.sync(['import', 'main', bad]);
  assert.equal(r1.code, 3);
  assert.match(r1.stderr, /link: is a symbolic link/);
  const nl = path.join(dir, 'nl');
  fs.mkdirSync(nl);
  fs.writeFileSync(path.join(nl, 'new\nline'), 'x');
  const r2 = cli.sync(['import', 'main', nl]);
  assert.equal(r2.code, 3);
  assert.match(r2.stderr, /newline/);
  const fifoDir = path.join(dir, 'fifo');
  fs.mkdirSync(fifoDir);
  execFileSync('mkfifo', [path.join(fifoDir, 'pipe')]);
  const r3 = cli.sync(['import', 'main', fifoDir]);
  assert.equal(r3.code, 3);
  assert.match(r3.stderr, /pipe: is not a regular file/);
  const r4 = cli.sync(['import', 'main', path.join(bad, 'ok.txt'), '--prefix', '../up']);
  assert.equal(r4.code, 3);
  assert.match(r4.stderr, /escapes the repository tree/);
  const r5 = cli.sync(['import', 'main', path.join(dir, 'does-not-exist')]);
  assert.equal(r5.code, 3);
  assert.match(r5.stderr, /does-not-exist: no such file/);
  if (process.getuid?.() !== 0) {
    const unreadable = path.join(dir, 'secret.txt');
    fs.writeFileSync(unreadable, 's', { mode: 0o000 });
    const r6 = cli.sync(['import', 'main', unreadable]);
    assert.equal(r6.code, 3);
  }
  assert.equal(fs.readlinkSync(current), 'snapshots/1');
  assert.equal(execFileSync('find', [path.join(base, 'pool', 'blobs'), '-type', 'f']).toString(), poolBefore);
  assert.deepEqual(fs.readdirSync(path.join(base, 'pool', 'tmp')), []);
  // --follow-symlinks imports the target instead.
  const ok = cli.sync(['import', 'main', bad, '--follow-symlinks']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(fs.existsSync(path.join(current, 'link')));
});

test('history, diff, list --gen and rollback (which publishes a NEW generation)', () => {
  const { cli, input, current, dir } = setup();
  assert.equal(cli.sync(['import', 'main', input]).code, 0); // gen 2
  assert.equal(cli.sync(['remove', 'main', 'a.txt']).code, 0); // gen 3
  const hist = cli.json<Array<{ generation: number; operation: string; parent: number | null; added: number; removed: number; actor: string }>>(['history', 'main']);
  assert.deepEqual(hist.map((h) => [h.generation, h.operation, h.parent, h.added, h.removed]), [
    [3, 'remove', 2, 0, 1],
    [2, 'import', 1, 2, 0],
    [1, 'create-repo', null, 0, 0],
  ]);
  assert.match(hist[0]!.actor, /.+@.+/);
  const d = cli.json<{ added: unknown[]; removed: Array<{ path: string }>; changed: unknown[] }>(['diff', 'main', '2', '3']);
  assert.deepEqual(d.removed.map((e) => e.path), ['a.txt']);
  assert.equal(d.added.length, 0);
  const l2 = cli.json<{ entries: Array<{ path: string }> }>(['list', 'main', '--gen', '2']);
  assert.deepEqual(l2.entries.map((e) => e.path), ['a.txt', 'sub/b.txt']);
  const rb = cli.json<{ generation: number; added: string[] }>(['rollback', 'main', '2']);
  assert.equal(rb.generation, 4);
  assert.deepEqual(rb.added, ['a.txt']);
  assert.equal(fs.readlinkSync(current), 'snapshots/4');
  sha256sumCheck(current);
  const missing = cli.sync(['rollback', 'main', '99']);
  assert.equal(missing.code, 5);
  void dir;
});

test('status reports generations, pool usage and exclusive bytes; verify finds and repairs faults', () => {
  const { cli, input, base } = setup();
  assert.equal(cli.sync(['import', 'main', input]).code, 0);
  const s = cli.json<{ pool: { blobs: number; bytes: number }; repos: Array<{ current: number; snapshots: Array<{ generation: number; exclusiveBytes: number }> }> }>(['status']);
  assert.equal(s.pool.blobs, 2);
  assert.equal(s.pool.bytes, 'alpha\n'.length + 'beta\n'.length);
  assert.equal(s.repos[0]!.current, 2);
  const g2 = s.repos[0]!.snapshots.find((x) => x.generation === 2)!;
  assert.ok(g2.exclusiveBytes >= 11, 'the two files are held by generation 2 alone');
  // Damage a cache: verify reports it (exit 8), --repair rebuilds it, verify passes again.
  fs.rmSync(path.join(base, 'repos', 'main', 'meta', 'manifests', '2.tsv'));
  const v = cli.sync(['verify', 'main']);
  assert.equal(v.code, 8);
  assert.match(v.stdout, /manifest cache is missing/);
  const rep = cli.sync(['verify', '--repair']);
  assert.equal(rep.code, 0, rep.stdout + rep.stderr);
  assert.match(rep.stdout, /repaired: main: generation 2: manifest rebuilt/);
  assert.equal(cli.sync(['verify', '--deep']).code, 0);
  // A writable blob is a fault; a corrupt blob is found by --deep.
  const blob = fs.readdirSync(path.join(base, 'pool', 'blobs')).map((p) => path.join(base, 'pool', 'blobs', p, fs.readdirSync(path.join(base, 'pool', 'blobs', p))[0]!))[0]!;
  fs.chmodSync(blob, 0o644);
  fs.appendFileSync(blob, 'corruption');
  const deep = cli.sync(['verify', '--deep']);
  assert.equal(deep.code, 8);
  assert.match(deep.stdout, /writable/);
  assert.match(deep.stdout, /corrupt blob/);
});

test('delete-repo needs --force and sweeps the blobs only it referenced', () => {
  const { cli, input, base } = setup();
  assert.equal(cli.sync(['import', 'main', input]).code, 0);
  const r = cli.sync(['delete-repo', 'main']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--force/);
  const d = cli.json<{ deleted: boolean; blobsFreed: number }>(['delete-repo', 'main', '--force']);
  assert.equal(d.deleted, true);
  assert.equal(d.blobsFreed, 2);
  assert.deepEqual(cli.json(['list-repos']), []);
  assert.equal(fs.existsSync(path.join(base, 'repos', 'main')), false);
});

test('dry runs change nothing', () => {
  const { cli, input, current, base } = setup();
  const r = cli.json<{ dryRun: boolean; added: string[] }>(['import', 'main', input, '--dry-run']);
  assert.equal(r.dryRun, true);
  assert.equal(r.added.length, 2);
  assert.equal(fs.readlinkSync(current), 'snapshots/1');
  assert.deepEqual(fs.readdirSync(path.join(base, 'pool', 'tmp')), []);
  assert.equal(cli.json<{ pool: { blobs: number } }>(['status']).pool.blobs, 0);
  assert.equal(cli.sync(['import', 'main', input]).code, 0);
  assert.equal(cli.sync(['remove', 'main', 'a.txt', '--dry-run']).code, 0);
  assert.equal(cli.sync(['rollback', 'main', '1', '--dry-run']).code, 0);
  assert.equal(cli.sync(['delete-repo', 'main', '--dry-run']).code, 0);
  assert.equal(fs.readlinkSync(current), 'snapshots/2');
  const pin = cli.sync(['pin', 'main', '2', '--dry-run']);
  assert.equal(pin.code, 0, pin.stderr);
  assert.equal(fs.existsSync(path.join(base, 'repos/main/pins/2')), false);
  // A command that changes nothing says the flag has no meaning for it.
  const list = cli.sync(['list', 'main', '--dry-run']);
  assert.equal(list.code, 2);
  assert.match(list.stderr, /list changes nothing: it has no --dry-run/);
  const fresh = path.join(base, '..', 'never-made');
  const init = cliIn(fresh).json<{ created: boolean; dryRun: boolean }>(['init', '--dry-run']);
  assert.deepEqual([init.created, init.dryRun], [true, true]);
  assert.equal(fs.existsSync(fresh), false, 'init --dry-run writes nothing');
});

test('usage errors exit 2 and every command has --help with examples', () => {
  const r = runSync(['import']);
  assert.equal(r.code, 2);
  const unknown = runSync(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Invalid command/);
  const flag = runSync(['--base', '/tmp/x', 'list-repos', '--no-such-flag']);
  assert.equal(flag.code, 2);
  for (const cmd of ['init', 'create-repo', 'list-repos', 'delete-repo', 'import', 'remove', 'list', 'history', 'diff', 'rollback', 'status', 'verify']) {
    const h = runSync([cmd, '--help']);
    assert.equal(h.code, 0, cmd);
    assert.match(h.stdout, /Examples/, `${cmd} --help shows examples`);
  }
  const noBase = runSync(['list-repos'], { env: { RCUREPO_BASE: '' } });
  assert.equal(noBase.code, 2);
});
