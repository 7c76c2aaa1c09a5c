/**
 * `rcurepo list REPO [--gen N]`: the files of a generation. For eopkg repositories each package shows
 * name, version, release, arch, size and whether it is the published tip (the build the index lists).
 */
import path from 'node:path';
import { listEntries } from './inspect.js';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { table, bytes } from '../util/text.js';
import type { TreeEntry } from '../formats/format.js';

export interface EopkgListEntry extends TreeEntry {
  name: string;
  version?: string;
  release: number;
  arch: string;
  delta: boolean;
  tip: boolean;
}

export async function listRepoContent(opts: { base: string; repo: string; generation?: number }): Promise<{ data: unknown; human: string }> {
  const r = await listEntries(opts);
  const layout = await openBase(opts.base);
  const cfg = await readRepoConfig(layout.repo(opts.repo));
  const format = cfg.format;
  const footer = `${r.entries.length} file(s) in generation ${r.generation} of '${r.repo}'`;
  if (format === 'eopkg') {
    const { newerBuild, parseFileName } = await import('../formats/eopkg/index.js');
    const pkgs: EopkgListEntry[] = [];
    for (const e of r.entries) {
      const fn = parseFileName(path.posix.basename(e.path));
      if (!fn) continue;
      if (fn.kind === 'delta') pkgs.push({ ...e, name: fn.name, release: Number(fn.toRelease), arch: fn.arch, delta: true, tip: false });
      else pkgs.push({ ...e, name: fn.name, version: fn.version, release: Number(fn.release), arch: fn.arch, delta: false, tip: false });
    }
    const tips = new Map<string, EopkgListEntry>();
    for (const p of pkgs) {
      const cur = tips.get(p.name);
      if (!p.delta && (!cur || newerBuild(p, cur))) tips.set(p.name, p);
    }
    for (const t of tips.values()) t.tip = true;
    const human =
      table([
        ['NAME', 'VERSION', 'RELEASE', 'ARCH', 'SIZE', 'TIP', 'PATH'],
        ...pkgs.map((p) => [p.name, p.delta ? '(delta)' : p.version ?? '', String(p.release), p.arch, bytes(p.size), p.tip ? 'tip' : '', p.path]),
      ]) + footer;
    return { data: { ...r, packages: pkgs }, human };
  }
  if (format === 'deb') {
    const { debRows } = await import('./deb-view.js');
    const packages = await debRows(layout, cfg.settings, r.entries);
    const human = table([['NAME', 'VERSION', 'ARCH', 'COMPONENT', 'DISTS', 'SIZE', 'PATH'], ...packages.map((p) => [p.name, p.version, p.arch, p.component, p.dists.join(',') || '-', bytes(p.size), p.path])]) + `${packages.length} package(s) in generation ${r.generation} of '${r.repo}'`;
    return { data: { ...r, packages }, human };
  }
  const human = table([['PATH', 'SIZE', 'SHA256'], ...r.entries.map((e) => [e.path, bytes(e.size), e.sha256])]) + footer;
  return { data: r, human };
}
