/** The format object a repository's commands use: its registered format, or a mirror's (src/distribution/sync-format.ts). */
import type { Format } from '../formats/format.js';
import type { RepoConfig } from '../engine/repo.js';
import { getFormat } from '../formats/registry.js';
import { mirrorFormat } from '../distribution/sync-format.js';

export async function formatOfRepo(cfg: RepoConfig): Promise<Format> {
  return cfg.upstream ? mirrorFormat(cfg.format, cfg.upstream) : getFormat(cfg.format);
}
