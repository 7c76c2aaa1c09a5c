/** Delete a (trash) tree in a worker thread; see delete-worker.ts for why. */
import { Worker } from 'node:worker_threads';
import { RcuError } from '../util/errors.js';

export function deleteTree(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./delete-worker.js', import.meta.url), { workerData: { dir } });
    let settled = false;
    w.once('message', (m: { ok: boolean; removed?: number; message?: string; code?: string }) => {
      settled = true;
      if (m.ok) resolve(m.removed ?? 0);
      else reject(Object.assign(new RcuError('FAILURE', `deleting ${dir}: ${m.message ?? 'failed'}`), { errno: m.code }));
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
