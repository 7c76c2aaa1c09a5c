/**
 * Delete a (trash) tree without blocking the event loop (the reaper keeps refreshing its writer lock).
 * First choice: `rm -rf` as a child process. It works relative to directory descriptors (unlinkat), which
 * a JavaScript loop over full paths cannot, and measured about 2.4x faster than delete-worker.ts on 100k
 * links. Only unlink/rmdir: works on a full disk. Fallback when `rm` is missing: the worker thread.
 */
import { execFile } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { RcuError } from '../util/errors.js';

function viaWorker(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./delete-worker.js', import.meta.url), { workerData: { dir } });
    let settled = false;
    w.once('message', (m: { ok: boolean; message?: string }) => {
      settled = true;
      if (m.ok) resolve();
      else reject(new RcuError('FAILURE', `deleting ${dir}: ${m.message ?? 'failed'}`));
    });
    w.once('error', (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    w.once('exit', (c) => {
      if (!settled) reject(new RcuError('FAILURE', `deleting ${dir}: worker exited with ${c}`));
      settled = true;
    });
  });
}

export function deleteTree(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('rm', ['-rf', '--', dir], (err, _out, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return viaWorker(dir).then(resolve, reject);
      reject(new RcuError('FAILURE', `deleting ${dir}: rm -rf failed: ${stderr.trim() || err.message}`));
    });
  });
}

export { viaWorker as deleteTreeInWorker };
