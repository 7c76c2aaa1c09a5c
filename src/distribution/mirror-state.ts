/**
 * What the last pushes of a mirror did, for `mirror status`: meta/mirrors/NAME.state.json. A cache in
 * the sense of docs/FORMAT.md (losing it loses only history: the next push learns what the mirror serves).
 */
import type { RepoLayout } from '../engine/layout.js';
import { readJsonIfExists, writeFileAtomic, mkdirp } from '../util/fsx.js';
import { mirrorsMetaDir, mirrorStateFile } from './mirror-config.js';

export interface MirrorState {
  /** Generation the mirror's `current` was last seen serving. */
  served?: number;
  /** End of the last successful push (or check that found the mirror up to date). */
  lastSuccessAt?: string;
  /** The last push that sent a snapshot. */
  lastPush?: { generation: number; at: string; durationMs: number; bytesSent: number; literalBytes: number; fileListBytes: number; totalFileBytes: number; files: number; linkedFrom: string[] };
  lastAttemptAt?: string;
  lastError?: { at: string; generation?: number; message: string; code: string } | null;
  /** Failed attempts since the last success. */
  failures?: number;
}

export async function readMirrorState(repo: RepoLayout, name: string): Promise<MirrorState> {
  try {
    return (await readJsonIfExists<MirrorState>(mirrorStateFile(repo, name))) ?? {};
  } catch (e) {
    if (e instanceof SyntaxError) return {}; // a torn cache: the next push rewrites it
    throw e;
  }
}

export async function updateMirrorState(repo: RepoLayout, name: string, change: (s: MirrorState) => MirrorState): Promise<MirrorState> {
  await mkdirp(mirrorsMetaDir(repo));
  const next = change(await readMirrorState(repo, name));
  await writeFileAtomic(mirrorStateFile(repo, name), JSON.stringify(next, null, 2) + '\n', { syncDir: false });
  return next;
}
