/**
 * Worker thread body: delete one directory tree with plain synchronous unlink/rmdir calls, the same
 * work `rm -rf` does and nothing more (no stat per file: readdir's types say which entries are folders).
 * It runs off the main thread so the reaper's event loop keeps refreshing the writer lock, and it needs
 * no free space (only unlink and rmdir), so it works on a full disk. ENOENT is tolerated: a writer's
 * cleanup may empty the trash at the same time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

function code(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function removeTree(dir: string): number {
  let n = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (code(e) === 'ENOENT') return 0;
    throw e;
  }
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) n += removeTree(p);
    else {
      try {
        fs.unlinkSync(p);
        n++;
      } catch (e) {
        if (code(e) !== 'ENOENT') throw e;
      }
    }
  }
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if (code(e) !== 'ENOENT') throw e;
  }
  return n;
}

const { dir } = workerData as { dir: string };
try {
  parentPort!.postMessage({ ok: true, removed: removeTree(dir) });
} catch (e) {
  parentPort!.postMessage({ ok: false, message: (e as Error).message, code: code(e) });
}
