/**
 * One (old build, tip) pair: reuse what the pool-level cache says about it, or make the delta into a
 * private pool temporary file. A reused delta blob is held by a hard link in pool/tmp from the moment it
 * is found, so a concurrent sweep cannot remove it before the transaction links it (commit() then
 * deduplicates the hold against the pool name). A build that cannot serve (bad zip, a blob whose bytes no
 * longer hash to its name, a payload failing its checksums or disagreeing with its files.xml) skips the pair
 * with a message.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Pool, StagedBlob } from '../../engine/pool.js';
import { describePackage, type EopkgMeta } from '../../formats/eopkg/package.js';
import { DeltaInputError, readPackageFiles, writeDelta } from '../../formats/eopkg/delta-writer.js';
import type { FileEntry } from '../../formats/eopkg/files-xml.js';
import { errnoCode, isRcuError } from '../../util/errors.js';
import { tmpName } from '../../util/fsx.js';
import { readPair, writePair } from './pair-cache.js';
import type { DeltaPair } from './pairs.js';

export type PairOutcome =
  | { status: 'made' | 'reused'; staged: StagedBlob; meta: EopkgMeta; carried: number; total: number }
  | { status: 'pointless'; cached: boolean; total: number }
  | { status: 'skipped'; message: string };

/** Per-run memo: each blob is hashed at most once, however many pairs it is part of. */
export class BlobChecks {
  private readonly checks = new Map<string, Promise<string | undefined>>();
  private readonly files = new Map<string, Promise<FileEntry[]>>();
  constructor(private readonly pool: Pool) {}

  /** undefined when the blob's bytes hash to its name; otherwise why not. */
  check(sha256: string): Promise<string | undefined> {
    let p = this.checks.get(sha256);
    if (!p) this.checks.set(sha256, (p = hashMismatch(this.pool.blobPath(sha256), sha256)));
    return p;
  }

  oldFiles(sha256: string): Promise<FileEntry[]> {
    let p = this.files.get(sha256);
    if (!p) this.files.set(sha256, (p = readPackageFiles(this.pool.blobPath(sha256), 'old')));
    return p;
  }
}

async function hashMismatch(file: string, sha256: string): Promise<string | undefined> {
  const h = createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return `pool blob ${file} is missing`;
    throw e;
  }
  const got = h.digest('hex');
  return got === sha256 ? undefined : `its bytes hash to ${got}, not ${sha256} (corrupt pool blob: run 'rcurepo verify --deep')`;
}

export async function makePair(pool: Pool, checks: BlobChecks, pair: DeltaPair): Promise<PairOutcome> {
  const oldSha = pair.old.entry.sha256;
  const newSha = pair.tip.entry.sha256;
  const cached = readPair(pool, oldSha, newSha);
  if (cached?.outcome === 'pointless') return { status: 'pointless', cached: true, total: cached.total };
  if (cached?.outcome === 'delta') {
    const held = hold(pool, cached.sha256);
    if (held) {
      const meta = await metaOf(pool, held, cached, path.posix.basename(pair.path));
      if (meta) return { status: 'reused', staged: { tmpPath: held, sha256: cached.sha256, sha1: cached.sha1, size: cached.size }, meta, carried: cached.carried, total: cached.total };
      fs.rmSync(held, { force: true });
    }
  }
  // The old blob is re-hashed: only its files.xml is read, so nothing else would notice bit rot. It runs
  // beside the making (a mismatch discards the result). The new blob is read whole anyway, and every byte
  // used is checked on the way (zip CRC-32 of the copied members, xz's CRC-64 of the payload, files.xml's
  // sha1 of each carried file): hashing it too would cost a second read.
  const oldCheck = checks.check(oldSha).then((why) => why && `${pair.old.entry.path}: ${why}`);
  oldCheck.catch(() => undefined); // awaited below, whatever the making does
  const tmp = tmpName(pool.layout.poolTmpDir, 'delta');
  let outcome: PairOutcome;
  try {
    const out = await writeDelta(await checks.oldFiles(oldSha), pool.blobPath(newSha), tmp);
    if (out.kind === 'pointless') outcome = { status: 'pointless', cached: false, total: out.total };
    else {
      const base = path.posix.basename(pair.path);
      const meta = await describePackage(tmp, base, pair.path, { sha1: out.sha1, size: out.size });
      outcome = { status: 'made', staged: { tmpPath: tmp, sha256: out.sha256, sha1: out.sha1, size: out.size }, meta, carried: out.carried, total: out.total };
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const bad = await oldCheck;
    if (bad) return { status: 'skipped', message: bad };
    if (e instanceof DeltaInputError) return { status: 'skipped', message: `${e.side === 'old' ? pair.old.entry.path : pair.tip.entry.path}: ${e.message}` };
    if (isRcuError(e, 'BAD_INPUT')) return { status: 'skipped', message: `the delta made from ${pair.old.entry.path} is not a valid package: ${e.message}` };
    throw e;
  }
  const bad = await oldCheck;
  if (bad) {
    fs.rmSync(tmp, { force: true });
    return { status: 'skipped', message: bad };
  }
  if (outcome.status === 'pointless') await writePair(pool, oldSha, newSha, { v: 1, outcome: 'pointless', total: outcome.total });
  return outcome;
}

/** A hard link of a pool blob in pool/tmp, or undefined when the blob is gone (swept) or cannot be linked. */
function hold(pool: Pool, sha256: string): string | undefined {
  const tmp = tmpName(pool.layout.poolTmpDir, 'hold');
  try {
    fs.linkSync(pool.blobPath(sha256), tmp);
    return tmp;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'EMLINK') return undefined;
    throw e;
  }
}

/** The delta blob's eopkg metadata: the pool's cache, else read from the held bytes. */
async function metaOf(pool: Pool, held: string, rec: { sha256: string; sha1: string; size: number }, base: string): Promise<EopkgMeta | undefined> {
  const m = pool.readMetaSync<EopkgMeta>(rec.sha256, 'eopkg');
  if (m && m.basename === base) return m;
  try {
    return await describePackage(held, base, base, { sha1: rec.sha1, size: rec.size });
  } catch (e) {
    if (isRcuError(e, 'BAD_INPUT')) return undefined;
    throw e;
  }
}
