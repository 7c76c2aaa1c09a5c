/**
 * THE registry of after-publish reactions: everything that follows a publish of any command is listed
 * here, and nowhere else (every transaction receives afterPublishFor(), which applies this list).
 *
 * To add a reaction, append an entry:
 *
 *   {
 *     name: 'mirror-push',                                         // marker meta/pending/mirror-push
 *     enabled: (s) => Array.isArray(s.mirrors) && s.mirrors.length > 0,
 *     background: (repo) => ['mirror', 'push', repo, '--background'],
 *   },
 *
 * and give the named command a background mode that calls claimPending(repo, 'mirror-push') (pending.ts)
 * once it holds whatever serialises its runs, then works on `current`. Inline steps (`inline`) are for
 * fast, idempotent work under the writer lock only (their failure is a warning of the publish).
 * Entries are data: this folder imports only engine/ and util/, so a reaction implemented in readers/,
 * hooks/ or a later folder is reached through its command line, never by an import.
 */
import type { Reaction, StoredSettings } from './reaction.js';
import { writeRsyncFragment } from './rsync-fragment.js';
import { SPARE_REACTION } from '../engine/spare.js';

/** A stored boolean setting (`rcurepo config` stores booleans; an absent key is the default). */
function flag(s: StoredSettings, key: string, dflt: boolean): boolean {
  const v = s[key];
  return typeof v === 'boolean' ? v : dflt;
}

export const REACTIONS: readonly Reaction[] = [
  {
    // rsyncd reads its module's `path` per connection: it must name the new snapshot at once.
    name: 'rsync-fragment',
    enabled: () => true,
    inline: (p) => writeRsyncFragment(p.layout, p.repoName, p.generation).then(() => undefined),
  },
  {
    // Reap superseded generations past their grace period, then sweep the pool (readers/reaper.ts).
    name: 'gc',
    enabled: (s) => flag(s, 'gcAfterPublish', true),
    background: (repo) => ['gc', repo, '--background'],
  },
  {
    // A hard-link clone of the new current made ahead of time, taken by the next transaction
    // (engine/spare.ts): the clone leaves the publisher's critical path.
    name: SPARE_REACTION,
    enabled: (s) => flag(s, 'spareClone', true),
    background: (repo) => ['spare', repo, '--background'],
  },
  {
    // The operator's post-publish hooks (hooks/post-publish.ts), one runner at a time, on `current`.
    name: 'post-publish',
    enabled: (s) => Array.isArray(s.postPublish) && s.postPublish.length > 0,
    background: (repo) => ['hooks', 'run', repo, '--background'],
  },
  {
    // Push `current` to the repository's mirrors (distribution/push-repo.ts): one push at a time per
    // mirror, following `current`, retrying a mirror that is down with backoff. Never waited for.
    name: 'mirror-push',
    enabled: (s) => typeof s.mirrors === 'object' && s.mirrors !== null && Object.keys(s.mirrors).length > 0 && flag(s, 'mirrorPushAfterPublish', true),
    background: (repo) => ['mirror', 'push', repo, '--background'],
  },
  {
    // eopkg: the delta packages the new tips lack (commands/deltas), one maker at a time, on `current`.
    // A publish that brought no new tip costs the child a look at the tree and nothing else.
    name: 'deltas',
    enabled: (s) => flag(s, 'deltasAfterPublish', false),
    background: (repo) => ['deltas', repo, '--background'],
  },
];

export function reactionNamed(name: string): Reaction | undefined {
  return REACTIONS.find((r) => r.name === name);
}
