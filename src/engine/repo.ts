/** Repository configuration and the base directory: init, open, create, list. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Layout, LAYOUT_VERSION, validateRepoName } from './layout.js';
import type { RepoLayout } from './layout.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { listDir, readJsonIfExists, writeFileAtomic } from '../util/fsx.js';

export interface RepoConfig {
  configVersion: 1;
  name: string;
  format: string;
  createdAt: string;
  /** Set while the repository refuses every change. */
  frozen?: { since: string; by: string; reason?: string };
  /** Operator settings (retention, grace, hooks...); never an input of the indexes. */
  settings: Record<string, unknown>;
  /**
   * Set on a mirror of another host's repository: it changes only by `sync`, serves the upstream's own
   * index and signature files byte for byte, and `verify` checks them with the format's rules instead of
   * regenerating them (src/distribution/sync-*.ts).
   */
  upstream?: UpstreamConfig;
}

export interface UpstreamConfig {
  /** rsync://HOST[:PORT]/MODULE/PATH, ssh://[USER@]HOST[:PORT]/PATH, or an absolute local path. */
  url: string;
  /** OpenPGP keyring (binary or armored) the upstream's signatures must verify against. */
  keyring?: string;
}

interface LayoutFile {
  layoutVersion: number;
  createdAt: string;
  tool: string;
}

/** Open an initialised base; refuse a missing one or one written by a newer layout. */
export async function openBase(base: string): Promise<Layout> {
  const layout = new Layout(base);
  const lf = await readJsonIfExists<LayoutFile>(layout.layoutFile).catch((e) => {
    if (e instanceof SyntaxError) throw new RcuError('LAYOUT', `${layout.layoutFile}: not valid JSON`);
    throw e;
  });
  if (!lf) throw new RcuError('LAYOUT', `${layout.base} is not an rcurepo base (no ${path.basename(layout.layoutFile)}); run 'rcurepo init --base ${layout.base}'`);
  if (typeof lf.layoutVersion !== 'number' || lf.layoutVersion > LAYOUT_VERSION) {
    throw new RcuError('LAYOUT', `${layout.base} uses layout version ${String(lf.layoutVersion)}, newer than this rcurepo understands (${LAYOUT_VERSION}); upgrade rcurepo`);
  }
  return layout;
}

export async function writeLayoutFile(layout: Layout): Promise<void> {
  const lf: LayoutFile = { layoutVersion: LAYOUT_VERSION, createdAt: new Date().toISOString(), tool: 'rcurepo' };
  await writeFileAtomic(layout.layoutFile, JSON.stringify(lf, null, 2) + '\n');
}

export async function readRepoConfig(repo: RepoLayout): Promise<RepoConfig> {
  const cfg = await readJsonIfExists<RepoConfig>(repo.configFile).catch((e) => {
    if (e instanceof SyntaxError) throw new RcuError('INTEGRITY', `${repo.configFile}: not valid JSON`);
    throw e;
  });
  if (!cfg) throw new RcuError('NOT_FOUND', `no repository named '${repo.name}'`);
  cfg.settings ??= {};
  return cfg;
}

export async function writeRepoConfig(repo: RepoLayout, cfg: RepoConfig): Promise<void> {
  await writeFileAtomic(repo.configFile, JSON.stringify(cfg, null, 2) + '\n');
}

export async function listRepoNames(layout: Layout): Promise<string[]> {
  const names = await listDir(layout.reposDir);
  const out: string[] = [];
  for (const n of names.sort()) {
    try {
      validateRepoName(n);
    } catch {
      continue; // temporary or foreign names
    }
    if (await readJsonIfExists(path.join(layout.reposDir, n, 'repo.json'))) out.push(n);
  }
  return out;
}

/** Same-filesystem check: link() fails with EXDEV across filesystems. */
export async function assertSameFilesystem(layout: Layout, repo?: RepoLayout): Promise<void> {
  const poolDev = (await fsp.stat(layout.poolDir)).dev;
  const dirs = repo ? [repo.dir, repo.snapshotsDir, repo.stagingDir] : [layout.reposDir];
  for (const d of dirs) {
    const st = await fsp.stat(d).catch((e) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    });
    if (st && st.dev !== poolDev) {
      throw new RcuError('FS_LIMIT', `${d} is on a different filesystem than the pool ${layout.poolDir}: hard links cannot cross filesystems (EXDEV); keep the whole base on one filesystem`);
    }
  }
}
