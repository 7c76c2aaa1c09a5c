/**
 * Worker thread of index-thread.ts: writes a staging tree's indexes with the format's own writeIndexes,
 * exactly as the transaction would on its main thread, and answers once. A separately bundled entry
 * point (dist/bundle/index-worker.js).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Layout } from '../engine/layout.js';
import { Pool } from '../engine/pool.js';
import { makeMetaLoader } from '../engine/snapshot-state.js';
import { getFormat } from '../formats/registry.js';
import { errorToWire } from '../util/errors.js';
import type { IndexWorkerData, IndexWorkerReply } from './index-thread.js';

const d = workerData as IndexWorkerData;
let reply: IndexWorkerReply;
try {
  const layout = new Layout(d.base);
  const pool = new Pool(layout);
  const format = await getFormat(d.format);
  await format.writeIndexes({
    layout,
    repo: layout.repo(d.repoName),
    settings: d.settings,
    stagingDir: d.stagingDir,
    entries: d.entries,
    loadMeta: makeMetaLoader(pool, format),
    cacheDir: d.cacheDir,
  });
  reply = { ok: true };
} catch (e) {
  reply = { fault: errorToWire(e) };
}
parentPort!.postMessage(reply);
