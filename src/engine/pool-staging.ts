/**
 * Staging: the bytes of an input file copied into a private temporary file in pool/tmp, hashed (sha256,
 * sha1, size) in the same pass. The uploader's file is never linked, and a refused input leaves nothing
 * behind. Pool (pool.ts) commits or discards what is staged here.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { BlobHashes } from '../formats/format.js';
import { errnoCode, fsError, RcuError } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';

/** Files up to this size are read whole (synchronously where callers slice their loops); larger ones are streamed. */
export const SMALL_FILE = 4 * 1024 * 1024;

export interface StagedBlob extends BlobHashes {
  /**
   * Private copy in pool/tmp; removed by commit() or discard(). Absent when the pool already held these
   * bytes when they were read (stageForImport): commit() then only checks the blob is still there, and
   * copies `source` again (checking its hash) should a sweep have removed it meanwhile.
   */
  tmpPath?: string;
  /** The file the bytes were read from (set when there is no tmpPath). */
  source?: string;
  /** Kinds of metadata this import cached for it (removed by discard() unless the blob is in the pool). */
  metaKinds?: string[];
  /** Set by commit(): the copy is now the pool blob, discard() leaves it alone. */
  committed?: boolean;
}

/** A staged blob that certainly has its private copy (what stage() and stageSync() return). */
export type StagedCopy = StagedBlob & { tmpPath: string };

function stageError(e: unknown, source: string): unknown {
  if (e instanceof RcuError) return e;
  if (errnoCode(e) === 'EACCES') return new RcuError('BAD_INPUT', `${source}: cannot read (permission denied)`, { cause: e });
  if (errnoCode(e) === 'ELOOP') return new RcuError('BAD_INPUT', `${source}: is a symbolic link`, { cause: e });
  if (errnoCode(e) === 'ENOENT') return new RcuError('BAD_INPUT', `${source}: no such file`, { cause: e });
  if (errnoCode(e) === 'EISDIR') return new RcuError('BAD_INPUT', `${source}: is a directory`, { cause: e });
  return fsError(e, source, 'copying into the pool');
}

/**
 * Reading the user's file failed: whatever the errno (EIO from /proc/self/mem, EINVAL or ENXIO from
 * special files posing as regular ones), that input cannot be imported, so it is refused as bad input.
 */
async function readInput<T>(source: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw inputError(e, source);
  }
}

function inputError(e: unknown, source: string): unknown {
  const c = errnoCode(e);
  if (c === undefined) return e;
  return new RcuError('BAD_INPUT', `${source}: cannot be read (${c}: ${(e as Error).message.replace(/^[A-Z]+: /, '')})`, { cause: e });
}

/**
 * Read a small file whole and hash it; write the private copy only if `wantCopy(sha256)` says so.
 * Undefined for files above SMALL_FILE (stream them).
 */
export function readSmallSync(poolTmpDir: string, source: string, wantCopy: (sha256: string) => boolean): (StagedCopy & { bytes: Buffer }) | (StagedBlob & { bytes: Buffer; tmpPath: undefined }) | undefined {
  let fd: number;
  try {
    fd = fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    throw stageError(e, source);
  }
  let tmp: string | undefined;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new RcuError('BAD_INPUT', `${source}: not a regular file`);
    if (st.size > SMALL_FILE) return undefined;
    let buf: Buffer;
    try {
      buf = fs.readFileSync(fd);
    } catch (e) {
      throw inputError(e, source);
    }
    const hashes = { sha256: createHash('sha256').update(buf).digest('hex'), sha1: createHash('sha1').update(buf).digest('hex'), size: buf.length };
    if (!wantCopy(hashes.sha256)) return { bytes: buf, tmpPath: undefined, source, ...hashes };
    tmp = tmpName(poolTmpDir);
    fs.writeFileSync(tmp, buf, { flag: 'wx', mode: 0o444 });
    return { bytes: buf, tmpPath: tmp, ...hashes };
  } catch (e) {
    if (tmp) fs.rmSync(tmp, { force: true });
    throw stageError(e, source);
  } finally {
    fs.closeSync(fd);
  }
}

/** Copy `source` into a private temporary file, computing sha256, sha1 and size in one pass. */
export async function stageCopy(poolTmpDir: string, source: string): Promise<StagedCopy> {
  const tmp = tmpName(poolTmpDir);
  const h256 = createHash('sha256');
  const h1 = createHash('sha1');
  let size = 0;
  let out: fsp.FileHandle | undefined;
  const src = await fsp.open(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = await src.stat();
    if (!st.isFile()) throw new RcuError('BAD_INPUT', `${source}: not a regular file`);
    out = await fsp.open(tmp, 'wx', 0o444);
    if (st.size <= SMALL_FILE) {
      const buf = await readInput(source, () => src.readFile());
      h256.update(buf);
      h1.update(buf);
      size = buf.length;
      await out.writeFile(buf);
    } else {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await readInput(source, () => src.read(buf, 0, buf.length, null));
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        h256.update(chunk);
        h1.update(chunk);
        size += bytesRead;
        await out.write(chunk);
      }
    }
  } catch (e) {
    await out?.close().catch(() => undefined);
    await src.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw stageError(e, source);
  }
  await out.close();
  await src.close();
  return { tmpPath: tmp, sha256: h256.digest('hex'), sha1: h1.digest('hex'), size };
}
