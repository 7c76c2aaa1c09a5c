/** Many writers at once: every import lands, nobody fails, generations form one forward chain. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';
import { checkSums } from './helpers/tree-check.js';

test('20 concurrent import processes of distinct files into one repository', async () => {
  const dir = tempDir();
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  const files = Array.from({ length: 20 }, (_, i) => {
    const f = path.join(dir, `pkg-${i}.bin`);
    fs.writeFileSync(f, `package ${i}\n`.repeat(i + 1));
    return f;
  });
  const results = await Promise.all(files.map((f) => cli.async(['--json', 'import', 'main', f, '--wait', '120'])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const gens = results.map((r) => (JSON.parse(r.stdout) as { generation: number }).generation);
  for (const g of gens) assert.ok(g >= 2);
  const sums = checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
  for (const f of files) assert.ok(sums.has(path.basename(f)), `${path.basename(f)} published`);
  const hist = cli.json<Array<{ generation: number; parent: number | null }>>(['history', 'main']).reverse();
  for (let i = 1; i < hist.length; i++) {
    assert.ok(hist[i]!.generation > hist[i - 1]!.generation, 'generations strictly increase');
    assert.equal(hist[i]!.parent, hist[i - 1]!.generation, 'each generation builds on the one before: no lost update');
  }
  assert.equal(cli.sync(['verify']).code, 0);
});
