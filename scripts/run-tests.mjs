#!/usr/bin/env node
// Runs every test file under test/ with node:test + tsx. Node 20 does not expand globs and
// `node --test dir/` finds no .ts files, so the list is built here, and an empty list is a failure.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const only = process.argv.slice(2);
const files = (only.length ? only : readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join('test', f)));
if (files.length === 0) {
  console.error('run-tests: no test files found under test/');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
