#!/usr/bin/env node
// Runs every test file under test/ with node:test + tsx. Node 20 does not expand globs and
// `node --test dir/` finds no .ts files, so the list is built here, and an empty list is a failure.
//
// First it makes sure the system tools the tests use (scripts/test-deps.txt) are there: run as root on
// a machine with apt, it installs what is missing; otherwise it says loudly which tools are missing (the
// tests needing them skip, saying so). RCUREPO_TEST_NO_INSTALL=1 turns the installing off.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** command (or absolute path) -> Debian package, from scripts/test-deps.txt (.ci/run reads it too). */
const TOOLS = Object.fromEntries(
  readFileSync(new URL('./test-deps.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => l.split(/\s+/)),
);

const has = (cmd) => (cmd.startsWith('/') ? existsSync(cmd) : spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0);

// Root with apt: every tool can be installed, so the tests treat a missing one as a failure (test/helpers/tools.ts).
const canInstall = process.getuid?.() === 0 && has('apt-get') && process.env.RCUREPO_TEST_NO_INSTALL !== '1';

function ensureTools() {
  let missing = Object.entries(TOOLS).filter(([cmd]) => !has(cmd));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  if (canInstall) {
    console.error(`run-tests: installing missing system tools: ${pkgs.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const up = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    if (up.status === 0) spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
    missing = missing.filter(([cmd]) => !has(cmd));
    if (missing.length === 0) return;
  }
  const bar = '!'.repeat(78);
  console.error(`${bar}\nrun-tests: MISSING system tools: ${missing.map(([cmd, pkg]) => `${cmd} (Debian package ${pkg})`).join(', ')}`);
  console.error(`run-tests: the tests that need them are SKIPPED. Install them, or run "npm test" as root on a machine with apt.\n${bar}`);
}

ensureTools();
const only = process.argv.slice(2);
const files = (only.length ? only : readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', f)));
if (files.length === 0) {
  console.error('run-tests: no test files found under test/');
  process.exit(1);
}
const env = { ...process.env, RCUREPO_TEST_TOOLS: canInstall ? 'required' : 'optional' };
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
