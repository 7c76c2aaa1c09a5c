/**
 * Checks run before a deb publish consumes a generation (Format.checkChange): the new tree must not
 * hold one package file name twice (same package, version and architecture from two sources or
 * components), and the Release fields clients pin must not change silently.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ChangeContext } from '../format.js';
import { errnoCode, RcuError } from '../../util/errors.js';
import { parseDebPath } from './package.js';
import { parseRelease, type ParsedRelease } from './release.js';
import { debSettings, type DistConfig } from './settings.js';

/** Fields clients pin: a change makes every `apt-get update` fail until the user allows it. */
const PINNED = ['Origin', 'Label', 'Codename'] as const;

export function checkReleaseInfo(dist: DistConfig & { acceptedReleaseInfo?: Record<string, string> }, previous: Map<string, string>): void {
  const now: Record<string, string | undefined> = { Origin: dist.origin, Label: dist.label, Codename: dist.codename };
  for (const f of PINNED) {
    const before = previous.get(f);
    const after = now[f];
    if ((before ?? '') === (after ?? '')) continue;
    if (dist.acceptedReleaseInfo && (dist.acceptedReleaseInfo[f] ?? '') === (after ?? '')) continue;
    throw new RcuError('CONFLICT', `distribution ${dist.codename}: ${f} would change from '${before ?? ''}' to '${after ?? ''}'; every client's apt-get update then fails until it passes --allow-releaseinfo-change. Restore the old value in repo.json, or accept the change explicitly (settings.deb.dists[].acceptedReleaseInfo, see docs/FORMAT.md)`);
  }
}

/** A distribution's Release in a snapshot, parsed (undefined: none yet). */
export async function previousRelease(snapshotDir: string, rel: string): Promise<ParsedRelease | undefined> {
  try {
    return parseRelease(await fsp.readFile(path.join(snapshotDir, rel, 'Release'), 'utf8'));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

export async function checkDebChange(ctx: ChangeContext): Promise<void> {
  const s = debSettings(ctx.settings);
  for (const dist of s.dists) {
    const prev = (await previousRelease(ctx.parentDir, s.flat ? '' : path.posix.join('dists', dist.codename)))?.fields;
    if (prev) checkReleaseInfo(dist, prev);
  }
  const adds = ctx.adds.filter((a) => parseDebPath(a.path));
  if (adds.length === 0) return;
  // One package file name in two places would list one package twice: only an added file can make
  // that happen, so only the parent's files named like an add are looked at (a one-package publish
  // compares names, it does not parse every path of the parent).
  const removed = new Set(ctx.removes);
  const replaced = new Set(ctx.adds.map((a) => a.path));
  const under = removed.size ? [...removed].map((r) => r + '/') : [];
  const gone = (p: string) => removed.has(p) || replaced.has(p) || under.some((r) => p.startsWith(r));
  const addedNames = new Set(adds.map((a) => fileName(a.path)));
  // A few adds (a build bot's publish): compare path endings, no substring made per parent path.
  const few = addedNames.size <= 4 ? [...addedNames].map((n) => '/' + n) : undefined;
  const named = few ? (p: string) => few.some((n) => p.endsWith(n)) : (p: string) => p.endsWith('.deb') && addedNames.has(fileName(p));
  const byName = new Map<string, { path: string; sha256: string }>();
  for (const e of await ctx.parentEntries()) {
    if (!named(e.path)) continue;
    if (parseDebPath(e.path) && !gone(e.path)) byName.set(fileName(e.path), e);
  }
  for (const a of adds) {
    const name = fileName(a.path);
    const other = byName.get(name);
    if (other) {
      const p = parseDebPath(a.path)!;
      throw new RcuError('CONFLICT', `${p.package} ${p.fileVersion} ${p.architecture} would be published twice: ${other.path} (sha256 ${other.sha256}) and ${a.path} (sha256 ${a.sha256}); remove one`);
    }
    byName.set(name, a);
  }
}

function fileName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
