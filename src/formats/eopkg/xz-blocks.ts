/**
 * Multi-block, single-stream xz assembled from separately compressed chunks (xz-file-format.txt):
 * each chunk is compressed alone by the system `xz` (single-threaded: one block), its block bytes and
 * (unpadded, uncompressed) sizes are kept, and the file is one stream header, all blocks, a new index and
 * a footer. Decompressing it yields the concatenation of the chunks.
 */
import { spawn } from 'node:child_process';
import { crc32 } from './crc32.js';

/** Settings every cached block depends on; part of the cache key. All blocks of a stream share the check. */
export const XZ_ARGS = ['-z', '-c', '-6', '--check=crc64', '-T1', '--format=xz'] as const;
const CHECK_CRC64 = 0x04;
const MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

export interface XzBlock {
  /** Block header + compressed data + padding + check (padded to a multiple of 4). */
  bytes: Buffer;
  unpaddedSize: number;
  uncompressedSize: number;
}

function xzEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.XZ_OPT;
  delete env.XZ_DEFAULTS;
  return env;
}

/** Run `xz` with the given args on `input`; resolve stdout. */
export function runXz(args: readonly string[], input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('xz', args as string[], { stdio: ['pipe', 'pipe', 'pipe'], env: xzEnv() });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    p.stdin.on('error', () => undefined); // EPIPE when xz fails early; reported by the exit code
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`xz ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`));
    });
    p.stdin.end(input);
  });
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

/** Split a one-stream, one-block xz file into its block. */
export function extractSingleBlock(xz: Buffer): XzBlock {
  if (xz.length < 32 || !xz.subarray(0, 6).equals(MAGIC)) throw new Error('xz: bad stream header');
  if (xz[6] !== 0 || xz[7] !== CHECK_CRC64) throw new Error('xz: unexpected stream flags');
  const foot = xz.length - 12;
  if (xz[foot + 10] !== 0x59 || xz[foot + 11] !== 0x5a) throw new Error('xz: bad stream footer');
  const indexSize = (xz.readUInt32LE(foot + 4) + 1) * 4;
  const idx = foot - indexSize;
  if (xz[idx] !== 0) throw new Error('xz: bad index indicator');
  let [count, p] = readVarint(xz, idx + 1);
  if (count !== 1) throw new Error(`xz: expected one block, found ${count}`);
  let unpaddedSize: number;
  let uncompressedSize: number;
  [unpaddedSize, p] = readVarint(xz, p);
  [uncompressedSize, p] = readVarint(xz, p);
  if (12 + pad4(unpaddedSize) !== idx) throw new Error('xz: block size does not match the index');
  return { bytes: Buffer.from(xz.subarray(12, idx)), unpaddedSize, uncompressedSize };
}

export async function compressBlock(data: Uint8Array): Promise<XzBlock> {
  if (data.length === 0) throw new Error('xz: refusing to compress an empty chunk');
  return extractSingleBlock(await runXz(XZ_ARGS, data));
}

/** One stream: header, the blocks in order, an index listing them, footer. */
export function assembleXz(blocks: readonly XzBlock[]): Buffer {
  const flags = Buffer.from([0x00, CHECK_CRC64]);
  const header = Buffer.alloc(12);
  MAGIC.copy(header, 0);
  flags.copy(header, 6);
  header.writeUInt32LE(crc32(flags), 8);
  const idx: number[] = [0x00];
  writeVarint(blocks.length, idx);
  for (const b of blocks) {
    writeVarint(b.unpaddedSize, idx);
    writeVarint(b.uncompressedSize, idx);
  }
  while (idx.length % 4 !== 0) idx.push(0);
  const idxBuf = Buffer.alloc(idx.length + 4);
  Buffer.from(idx).copy(idxBuf, 0);
  idxBuf.writeUInt32LE(crc32(idxBuf.subarray(0, idx.length)), idx.length);
  const footer = Buffer.alloc(12);
  footer.writeUInt32LE(idxBuf.length / 4 - 1, 4);
  flags.copy(footer, 8);
  footer.write('YZ', 10, 'latin1');
  footer.writeUInt32LE(crc32(footer.subarray(4, 10)), 0);
  return Buffer.concat([header, ...blocks.map((b) => b.bytes), idxBuf, footer]);
}
