/** Two-or-more deb repositories under one base, and .deb files written from control fields, for lifecycle tests. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeDeb } from '../../fixtures/gen-deb.js';
import { cliIn, tempDir } from './cli.js';

export interface DebRow {
  name: string;
  version: string;
  arch: string;
  component: string;
  path: string;
}

export interface Tx {
  published: boolean;
  generation: number;
  added: string[];
  removed: string[];
  notes: string[];
}

export function debRepos(repos: Record<string, string[]>) {
  const base = tempDir('rcurepo-deblife-');
  const cli = cliIn(base);
  const must = (args: string[]) => cli.must(args);
  must(['init']);
  for (const [name, createArgs] of Object.entries(repos)) must(['create-repo', name, '--format', 'deb', ...createArgs]);
  const src = path.join(base, 'in');
  fs.mkdirSync(src);
  let n = 0;
  /** A .deb with these control fields (extra: more `Field: value` lines); returns its file. */
  const deb = (name: string, version: string, arch: string, extra: Record<string, string> = {}) => {
    const lines = [`Package: ${name}`, ...(extra.Source ? [`Source: ${extra.Source}`] : []), `Version: ${version}`, `Architecture: ${arch}`, 'Maintainer: T <t@example.invalid>'];
    for (const [k, v] of Object.entries(extra)) if (k !== 'Source') lines.push(`${k}: ${v}`);
    lines.push(`Description: ${name} for lifecycle tests`);
    const f = path.join(src, `${n++}-${name}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`);
    fs.writeFileSync(f, makeDeb(lines.join('\n') + '\n', { payload: Buffer.from(`${name} ${version} ${arch}\n`), docName: name }));
    return f;
  };
  const rows = (repo: string): DebRow[] => cli.json<{ packages: DebRow[] }>(['list', repo]).packages;
  /** `name version arch` of every package, sorted: what a repository publishes, comparable at a glance. */
  const ids = (repo: string): string[] => rows(repo).map((r) => `${r.name} ${r.version} ${r.arch}`).sort();
  const current = (repo: string) => fs.readlinkSync(path.join(base, 'repos', repo, 'current'));
  return { base, cli, must, deb, rows, ids, current };
}

/** `dpkg --compare-versions a lt b` when dpkg is installed (the oracle for Debian version order). */
export function dpkgLess(a: string, b: string): boolean | undefined {
  const r = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]);
  if (r.error) return undefined;
  return r.status === 0;
}
