/** Independent checks of a published tree (no rcurepo code): SHA256SUMS lists exactly the files, with their hashes. */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';

export function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else out.push(r);
  }
  return out;
}

/** Throws unless SHA256SUMS names every file of the tree (besides itself) with the right hash. */
export function checkSums(root: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(root, 'SHA256SUMS'), 'utf8').split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) throw new Error(`${root}: bad SHA256SUMS line ${JSON.stringify(line)}`);
    sums.set(m[2]!, m[1]!);
  }
  const files = listFiles(root).filter((f) => f !== 'SHA256SUMS').sort();
  const listed = [...sums.keys()].sort();
  if (JSON.stringify(files) !== JSON.stringify(listed)) throw new Error(`${root}: tree ${JSON.stringify(files)} != SHA256SUMS ${JSON.stringify(listed)}`);
  for (const [p, h] of sums) {
    const got = createHash('sha256').update(fs.readFileSync(path.join(root, p))).digest('hex');
    if (got !== h) throw new Error(`${root}/${p}: sha256 ${got}, SHA256SUMS says ${h}`);
  }
  return sums;
}
