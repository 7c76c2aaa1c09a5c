/**
 * The record of the last gc run (BASE/gc-last.json, docs/FORMAT.md): when it ran, how long it took,
 * whether it succeeded, and when it last succeeded. Written by `rcurepo gc` after each run (not dry
 * runs), read by the metrics endpoint ("gc failing" alerts). Best effort: gc must work on a full disk,
 * so a record it cannot write is skipped, never an error.
 */
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { readJsonIfExists, writeFileAtomic } from '../util/fsx.js';

export interface GcRecord {
  time: string;
  durationSeconds: number;
  outcome: 'ok' | 'failed';
  reaped: number;
  bytesFreed: number;
  lastSuccess?: string;
  error?: string;
}

export const gcRecordFile = (layout: Layout) => path.join(layout.base, 'gc-last.json');

export async function readGcRecord(layout: Layout): Promise<GcRecord | undefined> {
  try {
    return (await readJsonIfExists(gcRecordFile(layout))) as GcRecord | undefined;
  } catch {
    return undefined; // a torn or foreign file: no record (metrics show none rather than fail the scrape)
  }
}

export async function writeGcRecord(layout: Layout, rec: Omit<GcRecord, 'lastSuccess'>): Promise<void> {
  try {
    const prev = await readGcRecord(layout);
    const lastSuccess = rec.outcome === 'ok' ? rec.time : prev?.lastSuccess;
    await writeFileAtomic(gcRecordFile(layout), JSON.stringify({ ...rec, ...(lastSuccess ? { lastSuccess } : {}) }, null, 2) + '\n');
  } catch {
    /* full disk or read-only base: the run itself is what matters */
  }
}
