/**
 * Conventions of the fs code that a type checker cannot see. Node 20's promise-based recursive mkdir
 * reports ENOENT when the real failure is ENOSPC (no inode or block left), which turns a full disk into
 * a misleading "no such file" and the wrong exit code; util/fsx.ts `mkdirp` asks again synchronously to
 * get the true code. Every recursive mkdir in src/ goes through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no promise-based recursive mkdir outside util/fsx.ts (it reports ENOSPC as ENOENT): use mkdirp', () => {
  const offenders: string[] = [];
  for (const file of sources(SRC)) {
    if (file.endsWith(path.join('util', 'fsx.ts'))) continue;
    fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (/fsp?\.(promises\.)?mkdir\([^)]*recursive:\s*true/.test(line) && !/fs\.mkdirSync/.test(line) && /await|fsp\./.test(line)) {
        offenders.push(`${path.relative(SRC, file)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.ok(sources(SRC).length > 50, 'the source tree was found');
  assert.deepEqual(offenders, [], `use mkdirp from util/fsx.ts:\n${offenders.join('\n')}`);
});
