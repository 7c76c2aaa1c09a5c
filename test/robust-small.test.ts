/** Smaller promises: the EMLINK warning counts blobs, and the demo's package count is computed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, cliIn, tempDir } from './helpers/cli.js';
import { parseFileName } from '../src/formats/eopkg/index.js';

test('the high-link warning names the number of blobs, not of links made', () => {
  const dir = tempDir('rcurepo-small-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  const first = path.join(dir, 'first.txt');
  fs.writeFileSync(first, 'shared bytes');
  assert.equal(cli.sync(['import', 'main', first]).code, 0);
  const prefix = fs.readdirSync(path.join(base, 'pool/blobs'))[0]!;
  const blob = path.join(base, 'pool/blobs', prefix, fs.readdirSync(path.join(base, 'pool/blobs', prefix))[0]!);
  const junk = path.join(dir, 'junk');
  fs.mkdirSync(junk);
  for (let i = 0; fs.statSync(blob).nlink <= 60_000; i++) fs.linkSync(blob, path.join(junk, String(i)));
  const same = path.join(dir, 'same');
  fs.mkdirSync(same);
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(same, `copy${i}.txt`), 'shared bytes');
  const r = cli.sync(['import', 'main', same]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /warning: 1 blob\(s\) have more than 60000 links \(up to 6000\d\)/);
  fs.rmSync(junk, { recursive: true });
});

test('the demo computes the number of packages its index lists', { timeout: 180_000 }, () => {
  const base = path.join(tempDir('rcurepo-demo-'), 'demo-base');
  const r = spawnSync('bash', ['scripts/demo.sh'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000, env: { ...process.env, RCUREPO_DEMO_BASE: base } });
  assert.equal(r.status, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
  // Independently: one listed package per name among the shipped builds (deltas are not listed).
  const names = new Set<string>();
  for (const f of fs.readdirSync(path.join(ROOT, 'fixtures/eopkg'))) {
    const fn = parseFileName(f);
    if (fn && fn.kind === 'package') names.add(fn.name);
  }
  assert.match(r.stdout, new RegExp(`\\(${names.size} packages listed, the ${names.size} tips\\)`));
});

test('the CLI starts with the code cache the build trained, and behaves the same without it', () => {
  const cache = path.join(ROOT, 'dist', 'bundle', 'main.cjs.cache');
  assert.ok(fs.existsSync(cache), 'npm run build writes dist/bundle/main.cjs.cache');
  const dir = tempDir('rcurepo-small-');
  const base = path.join(dir, 'base');
  const traced = cliIn(base).sync(['init'], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(traced.code, 0, traced.stderr);
  assert.match(traced.stderr, /main: loaded \(code cache: used\)/, 'V8 accepted the cache');
  // A cache V8 refuses (another Node, other bytes) only costs start-up time: the same command works.
  const copy = path.join(dir, 'cli');
  fs.cpSync(path.join(ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(copy, 'dist', 'bundle', 'main.cjs.cache'), Buffer.alloc(4096, 7));
  const bad = spawnSync(process.execPath, [path.join(copy, 'bin', 'rcurepo.js'), '--base', base, 'status'], { encoding: 'utf8', env: { ...process.env, RCUREPO_TRACE: '1' } });
  assert.equal(bad.status, 0, bad.stderr);
  assert.match(bad.stderr, /main: loaded \(code cache: rejected\)/);
  fs.rmSync(path.join(copy, 'dist', 'bundle', 'main.cjs.cache'));
  const none = spawnSync(process.execPath, [path.join(copy, 'bin', 'rcurepo.js'), '--base', base, 'status'], { encoding: 'utf8', env: { ...process.env, RCUREPO_TRACE: '1' } });
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stderr, /main: loaded \(code cache: none\)/);
  assert.equal(none.stdout, bad.stdout);
});
