/**
 * The command line keeps its promises: --dry-run on every writing command (and it changes nothing),
 * usage lines that show required arguments, examples that are real command lines, numbers parsed as
 * plain decimals (negative ones refused by value, not mistaken for options), and one stated default for
 * the eopkg index xz level.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cliIn, runSync, tempDir } from './helpers/cli.js';
import { coreCommands } from '../src/cli/core.js';
import { extraCommands } from '../src/cli/extra.js';
import { DEFAULT_XZ_PRESET } from '../src/formats/shared/xz-blocks.js';

/** Every file and folder under `dir` with its size and mtime: what "nothing changed" compares. */
function snapshotOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${e.isDirectory() ? 'dir' : `${st.size} ${st.mtimeMs}`}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function setup() {
  const dir = tempDir('rcurepo-cli-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  const f = path.join(dir, 'a.txt');
  fs.writeFileSync(f, 'a');
  assert.equal(cli.sync(['import', 'main', f]).code, 0);
  assert.equal(cli.sync(['hooks', 'add', 'main', '--', '/bin/true']).code, 0);
  return { dir, base, cli };
}

test('--dry-run is accepted by every writing command and changes nothing', () => {
  const { dir, base, cli } = setup();
  const lease = cli.json<{ id: string }>(['lease', 'acquire', 'main', '--ttl', '600']);
  const incoming = path.join(dir, 'incoming');
  fs.mkdirSync(incoming);
  fs.writeFileSync(path.join(incoming, 'upload.txt'), 'uploaded');
  fs.writeFileSync(path.join(incoming, 'bad.tram'), '[manifest\nversion=1\n');
  const out = path.join(dir, 'rsyncd.conf');
  const before = snapshotOf(base);
  const incomingBefore = snapshotOf(incoming);
  const calls: Array<[string[], RegExp]> = [
    [['config', 'main', 'keep', '5'], /dry run: would set main: keep = 5/],
    [['config', 'main', 'keep', '--unset'], /dry run: would set main: keep = \(default\)/],
    [['pin', 'main', '2', '--reason', 'x'], /dry run: generation 2 of 'main' would be pinned/],
    [['unpin', 'main', '2'], /dry run: generation 2 of 'main' is not pinned/],
    [['lease', 'acquire', 'main'], /dry run: would acquire a lease on generation 2 of 'main'/],
    [['lease', 'renew', lease.id], /dry run: would renew a lease on generation 2/],
    [['lease', 'release', lease.id], new RegExp(`dry run: would release ${lease.id.replace(/\./g, '\\.')}`)],
    [['hooks', 'add', 'main', '--', '/bin/echo', 'x'], /dry run: after add[^]*\/bin\/echo x/],
    [['hooks', 'remove', 'main', '1'], /dry run: after remove, the hooks would be:\n'main' has no post-publish hooks/],
    [['verify', '--repair'], /dry run: nothing was repaired/],
    [['rsyncd-conf', '--out', out], /dry run: would write/],
    [['watch', '--incoming', incoming, '--repo', 'main'], /"event":"would-import","name":"upload.txt"/],
  ];
  for (const [args, expect] of calls) {
    const r = cli.sync(['--dry-run', ...args]);
    assert.equal(r.code, 0, `${args.join(' ')} --dry-run: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stdout, expect, args.join(' '));
  }
  const w = cli.sync(['watch', '--incoming', incoming, '--repo', 'main', '--dry-run']);
  assert.match(w.stdout, /"event":"would-reject","name":"bad.tram"/);
  assert.deepEqual(snapshotOf(base), before, 'the base is untouched');
  assert.deepEqual(snapshotOf(incoming), incomingBefore, 'the incoming directory is untouched');
  assert.equal(fs.existsSync(out), false);
  // The real commands still work afterwards (the dry runs held no lock).
  assert.equal(cli.sync(['config', 'main', 'keep', '5']).code, 0);
  assert.equal(cli.sync(['pin', 'main', '2']).code, 0);
});

test('usage lines show the required arguments; every example is a command line of its command', () => {
  for (const [cmd, usage] of [
    ['import', 'import <repo> <path...>'],
    ['remove', 'remove <repo> <path...>'],
    ['promote', 'promote <src> <dst> <package...>'],
    ['with-snapshot', 'with-snapshot <repo> <command...>'],
  ]) {
    const r = runSync([cmd!, '--help']);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.includes(`$ rcurepo ${usage}`), `${cmd} --help shows '${usage}':\n${r.stdout}`);
  }
  for (const d of [...coreCommands, ...extraCommands()]) {
    const name = d.usage.split(/\s+/).filter((w) => !/^[<[]/.test(w)).join(' ');
    for (const ex of d.examples) {
      assert.ok(ex.startsWith(`${name} `) || ex === name, `example of '${name}' starts with the command: ${ex}`);
      const words = ex.split(/\s+/);
      assert.ok(!words.includes('rcurepo') && !/=/.test(words[0]!), `example of '${name}' is shown after '$ rcurepo ': ${ex}`);
    }
  }
  // A missing required argument is a usage error, not a crash.
  const { cli } = setup();
  assert.equal(cli.sync(['import', 'main']).code, 2);
  // Variadic arguments all arrive.
  const { dir } = setup();
  const one = path.join(dir, 'one.txt');
  const two = path.join(dir, 'two.txt');
  fs.writeFileSync(one, '1');
  fs.writeFileSync(two, '2');
  const r = cli.sync(['import', 'main', one, two]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\(2 added/);
  const rm = cli.sync(['remove', 'main', 'one.txt', 'two.txt']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /2 removed/);
});

test('numbers are plain decimals: negative ones are values (refused), hex and exponents are refused', () => {
  const { cli } = setup();
  const refusals: Array<[string[], RegExp]> = [
    [['config', 'main', 'keep', '-1'], /'-1' is not a valid int for keep/],
    [['config', 'main', 'keep', '0x10'], /'0x10' is not a valid int for keep/],
    [['config', 'main', 'graceSeconds', '1e3'], /'1e3' is not a valid number for graceSeconds/],
    [['diff', 'main', '-1', '2'], /FROM must be a whole number, not '-1'/],
    [['list', 'main', '--gen', '0x2'], /--gen must be a whole number, not '0x2'/],
    [['list', 'main', '--gen', '-2'], /--gen must be a whole number, not '-2'/],
    [['gc', '--wait', '-1'], /--wait takes a number of seconds, not '-1'/],
    [['gc', '--wait', '0x10'], /--wait takes a number of seconds, not '0x10'/],
    [['rollback', 'main', '-1'], /GEN must be a whole number, not '-1'/],
  ];
  for (const [args, expect] of refusals) {
    const r = cli.sync(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, expect, args.join(' '));
    assert.doesNotMatch(r.stderr, /unknown option/, args.join(' '));
  }
  assert.equal(cli.json<{ settings: { keep: number } }>(['config', 'main']).settings.keep, 3, 'nothing was set');
  // Arguments after -- are the command's own, untouched.
  const h = cli.sync(['hooks', 'add', 'main', '--', '/bin/sleep', '-1']);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /\/bin\/sleep -1/);
});

test(`indexXzPreset: --help, config, error messages and the written index agree on ${DEFAULT_XZ_PRESET}`, () => {
  const dir = tempDir('rcurepo-cli-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'unstable', '--format', 'eopkg']).code, 0);
  assert.match(runSync(['config', '--help']).stdout, new RegExp(`indexXzPreset \\(eopkg index xz level 0-9, default ${DEFAULT_XZ_PRESET}\\)`));
  assert.equal(cli.json<{ settings: { indexXzPreset: number } }>(['config', 'unstable']).settings.indexXzPreset, DEFAULT_XZ_PRESET);
  const bad = cli.sync(['config', 'unstable', 'indexXzPreset', '12']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, new RegExp(`\\(default ${DEFAULT_XZ_PRESET}\\)`));
  const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
  assert.match(readme, new RegExp(`\\| \`indexXzPreset\` \\| ${DEFAULT_XZ_PRESET} \\|`), 'README states the same default');
  // The index was compressed at that level: xz records the dictionary size, fixed per preset (3: 4 MiB, 6: 8 MiB).
  const xz = path.join(base, 'repos/unstable/current/eopkg-index.xml.xz');
  const info = runXzList(xz);
  const dict = ['256KiB', '1MiB', '2MiB', '4MiB', '4MiB', '8MiB', '8MiB', '16MiB', '32MiB', '64MiB'][DEFAULT_XZ_PRESET];
  assert.match(info, new RegExp(`--lzma2=dict=${dict}\n`), info);
});

function runXzList(file: string): string {
  const r = spawnSync('xz', ['--robot', '-lvv', file], { encoding: 'utf8' });
  return r.stdout + r.stderr;
}
