/**
 * The index files a publish rewrites (a format's indexFiles: SHA256SUMS, eopkg-index.xml.xz, dists/...)
 * get a modification time in a later second than the parent generation's file at the same path.
 *
 * Clients and mirrors tell a changed file by its modification time, in whole seconds: apt asks for
 * InRelease with If-Modified-Since (answered 304 when the file is not newer, to the second), and rsync's
 * quick check skips a file of the same size and second. An index written within the same second as the
 * one it replaces would look unchanged to both, until the next publish. With this, each generation's
 * index files are at least a second newer than the previous generation's; while publishes come faster
 * than one a second their times run ahead of the clock by a second per publish. Files shared with the
 * parent (the same inode: carried by-hash files, an index left as it was) are left alone.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Returns how many files were given a later time. */
export async function indexTimesAfterParent(staging: string, parentDir: string, indexNames: readonly string[]): Promise<number> {
  let moved = 0;
  // Synchronous: two lstats per index file, and a deb tree carries by-hash files of every generation in
  // grace (hundreds of files). One thread-pool round trip each, in sequence, cost 7-20 ms of a publish.
  const visit = (rel: string): void => {
    const st = lstatOrNone(path.join(staging, rel));
    if (!st) return;
    if (st.isDirectory()) {
      for (const n of fs.readdirSync(path.join(staging, rel))) visit(path.join(rel, n));
      return;
    }
    if (!st.isFile()) return;
    const prev = lstatOrNone(path.join(parentDir, rel));
    if (!prev?.isFile() || (prev.dev === st.dev && prev.ino === st.ino)) return;
    const prevSecond = Math.floor(prev.mtimeMs / 1000);
    if (Math.floor(st.mtimeMs / 1000) > prevSecond) return;
    fs.utimesSync(path.join(staging, rel), prevSecond + 1, prevSecond + 1);
    moved++;
  };
  for (const name of indexNames) visit(name);
  return moved;
}

/** A path that cannot be examined (gone, or a file where the parent had a folder) is simply not compared. */
function lstatOrNone(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}
