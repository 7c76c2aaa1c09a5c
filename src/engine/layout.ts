/**
 * Where everything lives under the base directory. This module is the single source of truth for the
 * on-disk layout described in docs/FORMAT.md; bump LAYOUT_VERSION when it changes incompatibly.
 *
 *   BASE/rcurepo-layout.json                 {"layoutVersion":1,...}
 *   BASE/pool/blobs/ab/<sha256>              content-addressed blobs, 0444, refcount = nlink - 1
 *   BASE/pool/meta/ab/<sha256>.<kind>.json   per-blob caches (hashes, format metadata); rebuildable
 *   BASE/pool/tmp/                           temporary files being added to the pool
 *   BASE/pool/guard/                         pool users / sweep markers (see pool-guard.ts)
 *   BASE/repos/<name>/repo.json              configuration (format, frozen, settings)
 *   BASE/repos/<name>/current                symlink -> snapshots/<gen>: the served path
 *   BASE/repos/<name>/snapshots/<gen>/       published immutable trees
 *   BASE/repos/<name>/staging/               transactions in progress (removed by cleanup)
 *   BASE/repos/<name>/trash/                 condemned trees being deleted
 *   BASE/repos/<name>/meta/                  history, manifests, index caches (rebuildable caches)
 *   BASE/repos/<name>/lock.lock/             writer lock directory (see lock.ts; lock.lock.takeover beside it)
 *   BASE/repos/<name>/leases/<gen>/<id>.json reader leases
 *   BASE/repos/<name>/condemned/<gen>        reaper's marker
 *   BASE/repos/<name>/pins/<gen>             generations the reaper must keep
 *   BASE/repos/<name>/queue/                 group-commit import requests
 *   BASE/repos/<name>/sync/                  upstream sync work (mirrors only): the attempt being
 *                                            received, the previous failed attempt, rsync temp files
 *   BASE/rsyncd.d/<name>.conf                rsync module fragment (path = concrete current snapshot)
 */
import path from 'node:path';
import { RcuError } from '../util/errors.js';

export const LAYOUT_VERSION = 1;
export const LAYOUT_FILE = 'rcurepo-layout.json';

/** Repository names: safe as one path component and in URLs, rsync module names and shell. */
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateRepoName(name: string): string {
  if (!REPO_NAME.test(name) || name.endsWith('.lock')) {
    throw new RcuError('USAGE', `invalid repository name '${name}': use 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`);
  }
  return name;
}

export function formatGeneration(gen: number): string {
  return String(gen);
}

/** Parse a snapshot directory name; undefined for anything that is not a generation. */
export function parseGeneration(name: string): number | undefined {
  if (!/^[1-9][0-9]{0,14}$/.test(name)) return undefined;
  return Number(name);
}

export class Layout {
  readonly base: string;
  constructor(base: string) {
    this.base = path.resolve(base);
  }

  get layoutFile(): string {
    return path.join(this.base, LAYOUT_FILE);
  }
  get poolDir(): string {
    return path.join(this.base, 'pool');
  }
  get blobsDir(): string {
    return path.join(this.base, 'pool', 'blobs');
  }
  get poolMetaDir(): string {
    return path.join(this.base, 'pool', 'meta');
  }
  get poolTmpDir(): string {
    return path.join(this.base, 'pool', 'tmp');
  }
  get poolGuardDir(): string {
    return path.join(this.base, 'pool', 'guard');
  }
  get reposDir(): string {
    return path.join(this.base, 'repos');
  }

  blobPath(sha256: string): string {
    return path.join(this.blobsDir, sha256.slice(0, 2), sha256);
  }
  blobMetaPath(sha256: string, kind: string): string {
    return path.join(this.poolMetaDir, sha256.slice(0, 2), `${sha256}.${kind}.json`);
  }

  /** rsync module fragments, one per repository, included by the main rsyncd.conf. */
  get rsyncFragmentsDir(): string {
    return path.join(this.base, 'rsyncd.d');
  }
  rsyncFragment(repoName: string): string {
    return path.join(this.rsyncFragmentsDir, `${validateRepoName(repoName)}.conf`);
  }

  repo(name: string): RepoLayout {
    return new RepoLayout(path.join(this.reposDir, validateRepoName(name)), name);
  }
}

export class RepoLayout {
  constructor(readonly dir: string, readonly name: string) {}

  get configFile(): string {
    return path.join(this.dir, 'repo.json');
  }
  get currentLink(): string {
    return path.join(this.dir, 'current');
  }
  get snapshotsDir(): string {
    return path.join(this.dir, 'snapshots');
  }
  snapshotDir(gen: number): string {
    return path.join(this.dir, 'snapshots', formatGeneration(gen));
  }
  /** The symlink target written into `current` (relative, so the base can move). */
  currentTarget(gen: number): string {
    return path.join('snapshots', formatGeneration(gen));
  }
  get stagingDir(): string {
    return path.join(this.dir, 'staging');
  }
  get trashDir(): string {
    return path.join(this.dir, 'trash');
  }
  get metaDir(): string {
    return path.join(this.dir, 'meta');
  }
  /** Highest generation ever allocated (never decreases; generations are never reused). */
  get generationCounterFile(): string {
    return path.join(this.dir, 'meta', 'last-generation');
  }
  historyFile(gen: number): string {
    return path.join(this.dir, 'meta', 'history', `${formatGeneration(gen)}.json`);
  }
  get historyDir(): string {
    return path.join(this.dir, 'meta', 'history');
  }
  manifestFile(gen: number): string {
    return path.join(this.dir, 'meta', 'manifests', `${formatGeneration(gen)}.tsv`);
  }
  get manifestsDir(): string {
    return path.join(this.dir, 'meta', 'manifests');
  }
  /** When the generation stopped being current (ISO time); starts its grace period. */
  supersededFile(gen: number): string {
    return path.join(this.dir, 'meta', 'superseded', formatGeneration(gen));
  }
  get supersededDir(): string {
    return path.join(this.dir, 'meta', 'superseded');
  }
  /** Format-private caches (e.g. compressed index blocks), keyed by the format. */
  formatCacheDir(format: string): string {
    return path.join(this.dir, 'meta', 'cache', format);
  }
  get lockTarget(): string {
    return path.join(this.dir, 'lock');
  }
  get leasesDir(): string {
    return path.join(this.dir, 'leases');
  }
  leaseDir(gen: number): string {
    return path.join(this.dir, 'leases', formatGeneration(gen));
  }
  get condemnedDir(): string {
    return path.join(this.dir, 'condemned');
  }
  condemnedMarker(gen: number): string {
    return path.join(this.dir, 'condemned', formatGeneration(gen));
  }
  get pinsDir(): string {
    return path.join(this.dir, 'pins');
  }
  pinMarker(gen: number): string {
    return path.join(this.dir, 'pins', formatGeneration(gen));
  }
  /**
   * Marker naming the pid of the background child of after-publish reaction `name` that has not yet
   * taken up its work (at most one pending per repository and reaction; src/publish/pending.ts).
   */
  reactionPendingMarker(name: string): string {
    return path.join(this.dir, 'meta', 'pending', name);
  }
  /** Upstream sync work area of a mirror (kept across failed attempts; see src/distribution/sync-run.ts). */
  get syncDir(): string {
    return path.join(this.dir, 'sync');
  }
  /** Trees under syncDir that may hold links to pool blobs (verify counts their references). */
  get syncTrees(): string[] {
    return [path.join(this.dir, 'sync', 'work'), path.join(this.dir, 'sync', 'prev')];
  }
  /** Group-commit queue of import requests waiting for the next transaction. */
  get queueDir(): string {
    return path.join(this.dir, 'queue');
  }
  /** Upload manifests already published (re-delivery answers "already published"). */
  deliveredFile(key: string): string {
    return path.join(this.dir, 'meta', 'delivered', `${key}.json`);
  }
  get postPublishLog(): string {
    return path.join(this.dir, 'meta', 'post-publish.log');
  }
  /** Lock target serialising the post-publish hook runners of the repository. */
  get postPublishLockTarget(): string {
    return path.join(this.dir, 'meta', 'post-publish');
  }
  /** Lock target serialising the delta makers (`rcurepo deltas`, by hand or after a publish) of the repository. */
  get deltasLockTarget(): string {
    return path.join(this.dir, 'meta', 'deltas');
  }
  /** One JSON line per background `deltas` run (its counts, skipped pairs, or its error). */
  get deltasLog(): string {
    return path.join(this.dir, 'meta', 'deltas.log');
  }
}
