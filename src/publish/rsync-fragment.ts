/**
 * The rsync daemon's module fragment of a repository (rcu-protocol.md, "Servers"), rewritten after every
 * publish: BASE/rsyncd.d/NAME.conf names the CONCRETE current snapshot as the module path and is replaced
 * by rename; rsyncd reads its configuration for every connection, so a transfer reads one generation from
 * start to end. The pre/post-xfer hooks it names are `rcurepo rsync-hook` (readers/rsyncd.ts).
 */
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { tmpName, mkdirp } from '../util/fsx.js';
import { BIN } from '../util/bin.js';

export function fragmentsDir(layout: Layout): string {
  return layout.rsyncFragmentsDir;
}

export function fragmentFile(layout: Layout, repoName: string): string {
  return layout.rsyncFragment(repoName);
}

function hookCommand(layout: Layout, which: 'pre' | 'post'): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `${q(process.execPath)} ${q(BIN)} --base ${q(layout.base)} rsync-hook ${which}`;
}

export function renderFragment(layout: Layout, repoName: string, gen: number): string {
  const repo = layout.repo(repoName);
  return [
    `# written by rcurepo at each publish of '${repoName}'; do not edit (replaced by rename)`,
    `[${repoName}]`,
    `    path = ${repo.snapshotDir(gen)}`,
    `    comment = ${repoName} generation ${gen}`,
    `    read only = yes`,
    `    use chroot = no`,
    `    pre-xfer exec = ${hookCommand(layout, 'pre')}`,
    `    post-xfer exec = ${hookCommand(layout, 'post')}`,
    '',
  ].join('\n');
}

/**
 * Write the module fragment naming `gen` (temp name without the .conf suffix, so rsyncd never reads a
 * half-written file, then rename). Called after each swap of `current`.
 */
export async function writeRsyncFragment(layout: Layout, repoName: string, gen: number): Promise<string> {
  const dir = fragmentsDir(layout);
  await mkdirp(dir);
  const target = fragmentFile(layout, repoName);
  const tmp = tmpName(dir, 'fragment');
  await fsp.writeFile(tmp, renderFragment(layout, repoName, gen), { flag: 'wx', mode: 0o644 });
  try {
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  return target;
}
