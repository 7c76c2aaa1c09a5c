/** Changing a repository's stored settings safely against other writers (config, keys, mirror commands). */
import type { LockHolder } from '../engine/lock.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { RepoLayout } from '../engine/layout.js';
import { readRepoConfig, writeRepoConfig } from '../engine/repo.js';

/** How long a settings change waits for the repository's writer lock, and who is told while it waits. */
export interface LockWait {
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

/** A copy of `settings` with `key` set to `value`, or without `key` when `value` is undefined (--unset). */
export function withSetting(settings: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const next = { ...settings };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

/**
 * Stores new settings under the repository's writer lock. The config is read again under the lock (another
 * writer may have changed it while this one waited); `change` returns the settings to store from the fresh
 * ones, or throws to store nothing; the write happens only while the lock is still held. Returns what was stored.
 */
export async function updateSettings(
  repo: RepoLayout,
  operation: string,
  wait: LockWait,
  change: (settings: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const lock = await acquireWriterLock(repo.lockTarget, { operation, waitSeconds: wait.waitSeconds ?? 300, onWait: wait.onWait });
  try {
    const fresh = await readRepoConfig(repo);
    fresh.settings = await change(fresh.settings);
    await lock.assertHeld();
    await writeRepoConfig(repo, fresh);
    return fresh.settings;
  } finally {
    await lock.release();
  }
}
