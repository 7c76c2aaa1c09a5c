/**
 * What runs after every publish, still under the writer lock (fast work only): the pieces the reader
 * and hook layers contribute. Failures are reported as warnings and never undo a publish.
 */
import type { Layout } from '../engine/layout.js';

export async function afterPublish(layout: Layout, repoName: string, gen: number, snapshotDir: string): Promise<void> {
  void layout;
  void repoName;
  void gen;
  void snapshotDir;
}
