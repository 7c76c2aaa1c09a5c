/**
 * The systemd units shipped in contrib/systemd/ pass `systemd-analyze verify` (with the CLI path pointed
 * at this checkout's bin, since verify checks that ExecStart exists), carry the hardening the README
 * promises, and name only commands this build has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, runSync, tempDir } from './helpers/cli.js';
import { skipReason } from './helpers/children.js';

const DIR = path.join(ROOT, 'contrib', 'systemd');
const UNITS = ['rcurepo-serve.service', 'rcurepo-watch@.service', 'rcurepo-gc.service', 'rcurepo-gc.timer'];
const haveAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const skip = haveAnalyze ? false : skipReason('SYSTEMD-ANALYZE NOT INSTALLED: unit verification skipped (apt install systemd, or .ci/run installs it)');

/** The units as installed, with the CLI at this checkout's bin; the template instantiated as @main. */
function staged(edit: (name: string, text: string) => string = (_n, t) => t): { dir: string; files: string[] } {
  const dir = tempDir('rcurepo-units-');
  const files: string[] = [];
  for (const u of UNITS) {
    const text = edit(u, fs.readFileSync(path.join(DIR, u), 'utf8').replaceAll('/usr/bin/rcurepo', BIN));
    const name = u.replace('@.', '@main.');
    fs.writeFileSync(path.join(dir, name), text);
    files.push(name);
  }
  return { dir, files };
}

function verify(dir: string, files: string[]) {
  return spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

test('every shipped unit passes systemd-analyze verify, with no warning', { skip }, () => {
  assert.deepEqual(fs.readdirSync(DIR).filter((f) => /\.(service|timer)$/.test(f)).sort(), [...UNITS].sort(), 'the list checked here is the list shipped');
  const { dir, files } = staged();
  const r = verify(dir, files);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});

test('the check can fail: a broken unit is refused', { skip }, () => {
  const { dir, files } = staged((n, t) => (n === 'rcurepo-gc.service' ? t.replace('Type=oneshot', 'Type=oneshot\nExecStart=relative/path') : t));
  assert.notEqual(verify(dir, files).status, 0);
});

test('hardening and graceful stop are declared; ExecStart names commands and options this build has', () => {
  for (const u of UNITS.filter((x) => x.endsWith('.service'))) {
    const t = fs.readFileSync(path.join(DIR, u), 'utf8');
    for (const d of ['ProtectSystem=strict', 'ReadWritePaths=/srv/rcurepo', 'NoNewPrivileges=yes', 'User=rcurepo']) assert.ok(t.includes(d), `${u}: ${d}`);
    if (!u.includes('gc')) assert.match(t, /KillSignal=SIGTERM/, `${u}: graceful stop`);
    const exec = /^ExecStart=\/usr\/bin\/rcurepo (\S+)(.*)$/m.exec(t)!;
    assert.ok(exec, `${u}: ExecStart runs rcurepo`);
    const help = runSync([exec[1]!, '--help']);
    assert.equal(help.code, 0, `${u}: 'rcurepo ${exec[1]}' exists`);
    for (const opt of exec[2]!.matchAll(/(--[a-z-]+)/g)) assert.ok(help.stdout.includes(opt[1]!) || opt[1] === '--log', `${u}: ${exec[1]} knows ${opt[1]}`);
  }
  assert.ok(fs.readFileSync(path.join(DIR, 'rcurepo-gc.timer'), 'utf8').includes('OnCalendar='));
});
