/**
 * What the last pushes of a mirror did, for `mirror status`, the repository page and /metrics:
 * meta/mirrors/NAME.state.json. A cache in the sense of docs/FORMAT.md (losing it loses only history:
 * the next push learns what the mirror serves). Pushes write it here; its reading (and the lag computed
 * from it) is readers/mirror-status.ts's, which the server's pages use too.
 */
import type { RepoLayout } from '../engine/layout.js';
import { mkdirp, writeFileAtomic } from '../util/fsx.js';
import { mirrorsMetaDir, mirrorStateFile, readMirrorState } from '../readers/mirror-status.js';
import type { MirrorState } from '../readers/mirror-status.js';

export { readMirrorState };
export type { MirrorState };

export async function updateMirrorState(repo: RepoLayout, name: string, change: (s: MirrorState) => MirrorState): Promise<MirrorState> {
  await mkdirp(mirrorsMetaDir(repo));
  const next = change(await readMirrorState(repo, name));
  await writeFileAtomic(mirrorStateFile(repo, name), JSON.stringify(next, null, 2) + '\n', { syncDir: false });
  return next;
}
