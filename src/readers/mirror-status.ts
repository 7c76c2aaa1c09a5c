/**
 * Extension point: how far each mirror of a repository is behind, for the repository page (and, later,
 * a metric). This build has no mirror push (docs: mirrors.md), so there is no source to read and the
 * page says so. When the mirror push lands it records, per mirror, the generation it last completed;
 * return those records here and the page shows them with no other change.
 */
import type { Layout } from '../engine/layout.js';

export interface MirrorLag {
  mirror: string;
  /** Generation the mirror last received completely. */
  generation: number;
  /** When that push completed (ISO). */
  completedAt: string;
  /** Generations behind current (0: up to date). */
  behind: number;
}

/** Per-mirror lag, or undefined when this build has no mirror status source (not "no mirrors"). */
export async function mirrorStatus(_layout: Layout, _repoName: string, _current: number | undefined): Promise<MirrorLag[] | undefined> {
  return undefined;
}
