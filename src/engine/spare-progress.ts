/**
 * A spare maker's progress, so that a writer finding a maker at work on its parent can tell "nearly
 * done" from "stuck": spare/progress-<gen>-<pid> holds the number of files linked so far, rewritten at
 * most every WRITE_EVERY_MS while it grows, so its mtime says when the clone last moved. Written when
 * the clone starts and removed when it ends; a dead maker's file is removed by tidySpares.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

export const PROGRESS = /^progress-(\d+)-(\d+)$/;
const WRITE_EVERY_MS = 200;
/** A maker whose count has not moved for this long is taken as stuck (or starved) rather than working. */
export const STALL_MS = 1000;

export function progressFile(root: string, gen: number, pid: number): string {
  return path.join(root, `progress-${gen}-${pid}`);
}

/** The maker's side: feed it the clone's counts; close() removes the file. Never fails the clone. */
export async function progressReporter(root: string, gen: number): Promise<{ onFiles(files: number): void; close(): Promise<void> }> {
  const file = progressFile(root, gen, process.pid);
  let writing: Promise<void> | undefined;
  let lastWrite = 0;
  const write = (files: number): void => {
    lastWrite = Date.now();
    writing = fsp
      .writeFile(file, `${files}\n`)
      .catch(() => undefined)
      .finally(() => (writing = undefined));
  };
  await fsp.writeFile(file, '0\n').catch(() => undefined);
  return {
    onFiles(files) {
      if (!writing && Date.now() - lastWrite >= WRITE_EVERY_MS) write(files);
    },
    async close() {
      await writing;
      await fsp.rm(file, { force: true });
    },
  };
}

/** The writer's side: whether maker `pid` linked files within the last STALL_MS. */
export async function makerMoving(root: string, gen: number, pid: number, now = Date.now()): Promise<boolean> {
  const st = await fsp.stat(progressFile(root, gen, pid)).catch(() => undefined);
  return !!st && now - st.mtimeMs < STALL_MS;
}
