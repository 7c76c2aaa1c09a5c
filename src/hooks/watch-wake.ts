/**
 * What lets the watcher answer an upload in the time of its publish rather than of its polls:
 *
 * - A ready marker, `.rcurepo-watch/ready/<manifest name>`, which an uploader that placed everything by
 *   rename (bin/rcurepo-upload) creates before it renames the manifest into place. It says "this manifest
 *   and every file it names are complete": the watcher takes such a manifest at first sight instead of
 *   waiting for the settle time. The files are still checked against the manifest's sha256 as always; the
 *   marker only skips the wait for writers that append in place (scp into incoming), which never make one.
 * - A wake-up on new names: fs.watch on the incoming directory ends the poll loop's sleep when a name not
 *   starting with '.' appears. The directory is still scanned every poll interval, which stays the truth
 *   (fs.watch misses events on some filesystems, and there are none across restarts); where fs.watch
 *   cannot be used at all the watcher only polls.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readyDir } from './watch-journal.js';

export function isMarkedReady(incoming: string, manifestName: string): boolean {
  return fs.existsSync(path.join(readyDir(incoming), manifestName));
}

/** A sleep that a wake-up (or the abort signal) ends early; a wake-up while awake makes the next sleep return at once. */
export class Waker {
  private pending: (() => void) | undefined;
  private woken = false;

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.pending = undefined;
        this.woken = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      this.pending = done;
    });
  }

  wake(): void {
    if (this.pending) this.pending();
    else this.woken = true;
  }
}

/**
 * Call `onArrival` when a name not starting with '.' appears in `dir` (a rename into place, a new file).
 * Returns the function that stops watching, or undefined (and says why through `onUnavailable`) when
 * fs.watch cannot watch the directory: the caller then relies on its polls alone.
 */
export function watchArrivals(dir: string, onArrival: () => void, onUnavailable: (reason: string) => void): (() => void) | undefined {
  let watcher: fs.FSWatcher;
  try {
    // Only 'rename' events: a file written in place also sends 'change' events, one per write, and such
    // a file needs its settle time anyway.
    watcher = fs.watch(dir, { persistent: false }, (event, name) => {
      if (event === 'rename' && (name === null || !String(name).startsWith('.'))) onArrival();
    });
  } catch (e) {
    onUnavailable((e as Error).message);
    return undefined;
  }
  watcher.on('error', (e) => {
    watcher.close();
    onUnavailable(e.message);
  });
  return () => watcher.close();
}
