/**
 * `rcurepo watch --dry-run`: one look at the incoming directory, saying what the watcher would do with
 * each upload now (import into which repository, reject and why, wait, ignore), without waiting for
 * uploads to settle, importing, deleting, moving or creating anything (not even the watcher's state).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { importFiles } from './import.js';
import { isManifestName, readManifest } from '../hooks/manifest-kinds.js';
import { checkUpload, refuseReason } from '../hooks/uploads.js';
import { REJECTED_DIR } from '../hooks/watch-journal.js';
import type { Layout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { errnoCode, RcuError } from '../util/errors.js';

/** What the watcher refuses for good (the upload goes to rejected/); anything else it would retry. */
const FINAL = new Set(['BAD_INPUT', 'CONFLICT', 'NOT_FOUND', 'USAGE']);

export interface PreviewEvent {
  event: 'would-import' | 'would-reject' | 'waiting' | 'ignored' | 'would-retry';
  name: string;
  [field: string]: unknown;
}

export async function previewIncoming(o: { layout: Layout; incoming: string; repo?: string }): Promise<PreviewEvent[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(o.incoming)).filter((n) => !n.startsWith('.') && n !== REJECTED_DIR).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new RcuError('NOT_FOUND', `incoming directory ${o.incoming} does not exist`);
    throw e;
  }
  const out: PreviewEvent[] = [];
  const claimed = new Set<string>();
  // Any failure to read one upload is that upload's refusal (the watcher must not stop on one).
  const refusal = (name: string, e: unknown): PreviewEvent => {
    if (!(e instanceof RcuError)) return { event: 'would-reject', name, reason: `${name}: ${e instanceof Error ? e.message : String(e)}` };
    const reason = [e.message, ...e.details].join('\n');
    return FINAL.has(e.code) ? { event: 'would-reject', name, reason } : { event: 'would-retry', name, code: e.code, reason };
  };
  for (const name of names.filter(isManifestName)) {
    try {
      const m = await readManifest(path.join(o.incoming, name));
      for (const f of m.files) claimed.add(f.path.split('/')[0]!);
      const target = m.target ?? o.repo;
      if (target === undefined) throw new RcuError('USAGE', `${name}: the manifest names no target repository and no --repo is set`);
      await readRepoConfig(o.layout.repo(target));
      for (const f of m.files) await checkUpload(m.dir, f.path, name);
      out.push({ event: 'would-import', name, kind: 'manifest', repo: target, files: m.files.map((f) => f.path) });
    } catch (e) {
      out.push(refusal(name, e));
    }
  }
  for (const name of names) {
    if (isManifestName(name) || claimed.has(name)) continue;
    const st = await fsp.lstat(path.join(o.incoming, name)).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      out.push({ event: 'ignored', name, reason: 'a folder: only files named by a manifest are taken from folders' });
      continue;
    }
    const why = refuseReason(st);
    if (why) {
      out.push({ event: 'would-reject', name, reason: `${name} ${why}` });
      continue;
    }
    if (!o.repo) {
      out.push({ event: 'waiting', name, reason: 'no manifest names it and no --repo is set for bare files' });
      continue;
    }
    try {
      const r = await importFiles({ base: o.layout.base, repo: o.repo, paths: [path.join(o.incoming, name)], cwd: o.incoming, dryRun: true, waitSeconds: 0 });
      out.push({ event: 'would-import', name, kind: 'file', repo: o.repo, added: r.added, replaced: r.replaced, unchanged: r.unchanged });
    } catch (e) {
      out.push(refusal(name, e));
    }
  }
  return out;
}
