/**
 * Multi-block, single-stream xz assembled from separately compressed chunks (xz-file-format.txt):
 * each chunk is compressed alone by the system `xz` (single-threaded: one block), its block bytes and
 * (unpadded, uncompressed) sizes are kept, and the file is one stream header, all blocks, a new index and
 * a footer. Decompressing it yields the concatenation of the chunks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from './crc32.js';
import { takeWarmXz } from './xz-warm.js';

/** The xz command line for one block at `preset` (part of every cached block's key). All blocks of a stream share the check. */
export function xzArgs(preset: number): string[] {
  return ['-z', '-c', `-${preset}`, '--check=crc64', '-T1', '--format=xz'];
}
const CHECK_CRC64 = 0x04;
const MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export interface XzBlock {
  /** Block header + compressed data + padding + check (padded to a multiple of 4). */
  bytes: Buffer;
  unpaddedSize: number;
  uncompressedSize: number;
}

export function xzEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.XZ_OPT;
  delete env.XZ_DEFAULTS;
  return env;
}

/** Resolve when `xz` exits 0; otherwise reject with its exit code and stderr. */
export function exited(p: ChildProcess, args: readonly string[]): Promise<void> {
  const err: Buffer[] = [];
  p.stderr?.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`xz ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`))));
  });
}

let workFiles = 0;

/** Names of runXz's temporary files in a work folder (a killed process may leave some; the cache prunes them). */
export const XZ_WORK_PREFIX = 'xz-work-';

/**
 * Run `xz` with the given args on `input`; resolve its output. With `workDir`, through files there
 * instead of pipes: xz then reads and writes at its own speed, while a pipe is only fed when this (busy)
 * event loop gets around to it. Measured on a pull: the same xz work took twice as long through pipes.
 */
export async function runXz(args: readonly string[], input: Uint8Array, workDir?: string): Promise<Buffer> {
  if (workDir === undefined) {
    const p = spawn('xz', args as string[], { stdio: ['pipe', 'pipe', 'pipe'], env: xzEnv() });
    const out: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stdin.on('error', () => undefined); // EPIPE when xz fails early; reported by the exit code
    const done = exited(p, args);
    p.stdin.end(input);
    await done;
    return Buffer.concat(out);
  }
  const base = path.join(workDir, `${XZ_WORK_PREFIX}${process.pid}-${workFiles++}`);
  fs.writeFileSync(`${base}.in`, input);
  const inFd = fs.openSync(`${base}.in`, 'r');
  let outFd: number | undefined;
  try {
    outFd = fs.openSync(`${base}.out`, 'w+');
    await exited(spawn('xz', args as string[], { stdio: [inFd, outFd, 'pipe'], env: xzEnv() }), args);
    return fs.readFileSync(`${base}.out`);
  } finally {
    fs.closeSync(inFd);
    if (outFd !== undefined) fs.closeSync(outFd);
    fs.rmSync(`${base}.in`, { force: true });
    fs.rmSync(`${base}.out`, { force: true });
  }
}

/** Read an xz multibyte integer at `pos`; returns [value, next position]. */
export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 9; i++) {
    const b = buf[pos + i];
    if (b === undefined) throw new Error('xz: truncated integer');
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, pos + i + 1];
  }
  throw new Error('xz: integer too long');
}

export function writeVarint(v: number, out: number[]): void {
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * The default level of the index's blocks. Measured on a 24 MB eopkg index cut in ~300 KB blocks (the
 * group size): level 3 compresses 5.7 x faster than level 6 (xz's default, ferryd's) for a 7% larger
 * file. Every publish that touches many groups (a pull, a burst of build-bot imports) pays that
 * compression, so the default favours publishing; `indexXzPreset 6` gives the smallest downloads.
 */
export const DEFAULT_XZ_PRESET = 3;

export async function compressBlock(data: Uint8Array, preset = DEFAULT_XZ_PRESET, workDir?: string): Promise<XzBlock> {
  return (await compressBlocks([data], preset, workDir))[0]!;
}

/**
 * Compress several chunks in one `xz` process, one block each (`--block-list`). Single-threaded xz starts
 * every block with a fresh encoder and writes no sizes into block headers, so each block is byte-identical
 * to compressing its chunk alone (compressBlock); the tests hold it to that. Starting one process per
 * chunk costs more than compressing a chunk at the fast levels.
 */
export async function compressBlocks(datas: readonly Uint8Array[], preset = DEFAULT_XZ_PRESET, workDir?: string): Promise<XzBlock[]> {
  if (datas.some((d) => d.length === 0)) throw new Error('xz: refusing to compress an empty chunk');
  // One chunk: plain xz, no block list (the tests compare batches against exactly that).
  const args = datas.length === 1 ? xzArgs(preset) : [...xzArgs(preset), `--block-list=${datas.map((d) => d.length).join(',')}`];
  const warm = datas.length === 1 ? takeWarmXz(args) : undefined;
  const out = warm ? await warm.run(datas[0]!) : await runXz(args, datas.length === 1 ? datas[0]! : Buffer.concat(datas), workDir);
  const blocks = splitBlocks(out);
  if (blocks.length !== datas.length || blocks.some((b, i) => b.uncompressedSize !== datas[i]!.length)) {
    throw new Error(`xz: expected ${datas.length} blocks of the given sizes, got ${blocks.length}`);
  }
  return blocks;
}

/** The blocks of a one-stream xz file, located through its (checked) index. */
export function splitBlocks(xz: Buffer): XzBlock[] {
  const { layout } = checkXzStructure(xz);
  // The blocks go into a stream whose header declares CRC64 (streamHeader): they must carry that check.
  if (xz[7] !== CHECK_CRC64) throw new Error('xz: unexpected stream flags (blocks must use CRC64)');
  return layout.map((b) => ({
    bytes: Buffer.from(xz.subarray(b.offset, b.offset + pad4(b.unpaddedSize))),
    unpaddedSize: b.unpaddedSize,
    uncompressedSize: b.uncompressedSize,
  }));
}

const STREAM_FLAGS = Buffer.from([0x00, CHECK_CRC64]);

/** The 12-byte stream header every assembled stream starts with. */
export function streamHeader(): Buffer {
  const header = Buffer.alloc(12);
  MAGIC.copy(header, 0);
  STREAM_FLAGS.copy(header, 6);
  header.writeUInt32LE(crc32(STREAM_FLAGS), 8);
  return header;
}

/** The index listing `blocks` (sizes only) followed by the stream footer. */
export function streamIndexAndFooter(blocks: readonly Pick<XzBlock, 'unpaddedSize' | 'uncompressedSize'>[]): Buffer {
  const idx: number[] = [0x00];
  writeVarint(blocks.length, idx);
  for (const b of blocks) {
    writeVarint(b.unpaddedSize, idx);
    writeVarint(b.uncompressedSize, idx);
  }
  while (idx.length % 4 !== 0) idx.push(0);
  const out = Buffer.alloc(idx.length + 4 + 12);
  Buffer.from(idx).copy(out, 0);
  out.writeUInt32LE(crc32(out.subarray(0, idx.length)), idx.length);
  const footer = out.subarray(idx.length + 4);
  footer.writeUInt32LE((idx.length + 4) / 4 - 1, 4);
  STREAM_FLAGS.copy(footer, 8);
  footer.write('YZ', 10, 'latin1');
  footer.writeUInt32LE(crc32(footer.subarray(4, 10)), 0);
  return out;
}

export interface XzStructure {
  blocks: number;
  uncompressedSize: number;
  /** Where each block is: offset in the file, and its sizes as the index records them. */
  layout: { offset: number; unpaddedSize: number; uncompressedSize: number }[];
}

/**
 * Check that `xz` is structurally one xz stream, without decompressing: stream header and footer (magic,
 * flags, CRC32s, backward size), the index (indicator, records, padding, CRC32), and that the blocks the
 * index lists exactly fill the space between header and index, each starting with a block header whose
 * CRC32 matches. Throws an Error describing the first problem.
 */
export function checkXzStructure(xz: Uint8Array): XzStructure {
  const buf = Buffer.from(xz.buffer, xz.byteOffset, xz.byteLength);
  if (buf.length < 32) throw new Error('xz: too short to be a stream');
  if (!buf.subarray(0, 6).equals(MAGIC)) throw new Error('xz: bad stream header magic');
  const flags = buf.subarray(6, 8);
  if (flags[0] !== 0 || (flags[1]! & 0xf0) !== 0) throw new Error('xz: unsupported stream flags');
  if (crc32(flags) !== buf.readUInt32LE(8)) throw new Error('xz: stream header CRC32 mismatch');
  const foot = buf.length - 12;
  if (buf[foot + 10] !== 0x59 || buf[foot + 11] !== 0x5a) throw new Error('xz: bad stream footer magic (not a single stream, or truncated)');
  if (crc32(buf.subarray(foot + 4, foot + 10)) !== buf.readUInt32LE(foot)) throw new Error('xz: stream footer CRC32 mismatch');
  if (!buf.subarray(foot + 8, foot + 10).equals(flags)) throw new Error('xz: stream footer flags differ from the header');
  const indexSize = (buf.readUInt32LE(foot + 4) + 1) * 4;
  const idx = foot - indexSize;
  if (idx < 12) throw new Error('xz: backward size points before the stream header');
  if (buf[idx] !== 0) throw new Error('xz: bad index indicator');
  if (crc32(buf.subarray(idx, foot - 4)) !== buf.readUInt32LE(foot - 4)) throw new Error('xz: index CRC32 mismatch');
  let [count, p] = readVarint(buf, idx + 1);
  let blockPos = 12;
  let total = 0;
  const layout: XzStructure['layout'] = [];
  for (let i = 0; i < count; i++) {
    let unpadded: number;
    let uncompressed: number;
    [unpadded, p] = readVarint(buf, p);
    [uncompressed, p] = readVarint(buf, p);
    if (p > foot - 4) throw new Error('xz: index records overrun the index');
    if (blockPos >= idx) throw new Error('xz: index lists more blocks than the stream holds');
    const hsize = (buf[blockPos]! + 1) * 4;
    if (buf[blockPos] === 0 || blockPos + hsize > idx) throw new Error(`xz: block ${i + 1}: bad block header`);
    if (crc32(buf.subarray(blockPos, blockPos + hsize - 4)) !== buf.readUInt32LE(blockPos + hsize - 4)) throw new Error(`xz: block ${i + 1}: block header CRC32 mismatch`);
    if (unpadded < hsize) throw new Error(`xz: block ${i + 1}: unpadded size smaller than its header`);
    layout.push({ offset: blockPos, unpaddedSize: unpadded, uncompressedSize: uncompressed });
    blockPos += pad4(unpadded);
    total += uncompressed;
  }
  while (p < foot - 4) if (buf[p++] !== 0) throw new Error('xz: non-zero index padding');
  if (blockPos !== idx) throw new Error('xz: blocks listed by the index do not fill the stream');
  return { blocks: count, uncompressedSize: total, layout };
}
