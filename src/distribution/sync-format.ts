/**
 * How a mirror's format behaves for the engine and `verify`. A mirror serves the upstream's own index
 * and signature files byte for byte, so every file of its tree (indexes included) is a pool blob: the
 * format writes no index and lists no index files, and its verification runs the upstream checks
 * (sync-checks.ts) on the snapshot instead of regenerating anything. Nothing can be imported into a mirror.
 */
import type { Format, VerifyContext } from '../formats/format.js';
import type { UpstreamConfig } from '../engine/repo.js';
import { Layout } from '../engine/layout.js';
import { RcuError } from '../util/errors.js';
import { checkedTree, checkMirrorTree } from './sync-checks.js';

/** Formats whose upstream trees rcurepo can check. */
export const MIRROR_FORMATS = ['files', 'eopkg', 'deb'] as const;

export function checkMirrorFormatName(name: string): string {
  if (!(MIRROR_FORMATS as readonly string[]).includes(name)) throw new RcuError('USAGE', `format '${name}' cannot be mirrored (mirrors: ${MIRROR_FORMATS.join(', ')})`);
  return name;
}

export function mirrorFormat(name: string, upstream: UpstreamConfig): Format {
  checkMirrorFormatName(name);
  return {
    name,
    indexFiles: [],
    async place() {
      throw new RcuError('USAGE', `this repository mirrors ${upstream.url}: it changes only by 'rcurepo sync'`);
    },
    async describe() {
      return {};
    },
    async writeIndexes() {
      return [];
    },
    async verifyIndexes(ctx: VerifyContext) {
      return checkMirrorTree(checkedTree(ctx.layout instanceof Layout ? ctx.layout : new Layout(ctx.layout.base), ctx.snapshotDir, ctx.entries), { format: name, keyring: upstream.keyring });
    },
  };
}
