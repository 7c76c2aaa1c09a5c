/**
 * Cache of index chunks in the format's private cache directory: each entry holds a chunk's compressed xz
 * block and its uncompressed text, keyed by a hash of everything the chunk's text is made from (package
 * fragment hashes, paths, sizes, sha1s, deltas; asset text; the xz settings and a serialisation version).
 * Entries carry a sha1 of the block and a CRC-32 of the text, checked on read (a damaged entry is a miss), so
 * they are written without fsync: the cache is rebuildable, and verifyIndexes compares the published index
 * with a full regeneration that uses no cache.
 * Pruning keeps the blocks used by this build and the previous one.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../../util/errors.js';
import { tmpName } from '../../util/fsx.js';
import { crc32 } from './crc32.js';
import type { XzBlock } from './xz-blocks.js';

const MAGIC = Buffer.from('RCUXZB2\0', 'latin1');
const HEADER = 8 + 8 + 8 + 20 + 4;
const USED_FILE = 'used.json';

export class BlockCache {
  readonly dir: string;
  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'xz-blocks');
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.blk`);
  }

  async get(key: string): Promise<{ xml: Buffer; block: XzBlock } | undefined> {
    let buf: Buffer;
    try {
      buf = await fsp.readFile(this.file(key));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    if (buf.length < HEADER || !buf.subarray(0, 8).equals(MAGIC)) return undefined;
    const unpaddedSize = Number(buf.readBigUInt64LE(8));
    const uncompressedSize = Number(buf.readBigUInt64LE(16));
    const blockLen = (unpaddedSize + 3) & ~3;
    if (buf.length !== HEADER + blockLen + uncompressedSize) return undefined;
    const bytes = buf.subarray(HEADER, HEADER + blockLen);
    if (!createHash('sha1').update(bytes).digest().equals(buf.subarray(24, 44))) return undefined;
    const xml = buf.subarray(HEADER + blockLen);
    if (crc32(xml) !== buf.readUInt32LE(44)) return undefined;
    return { xml, block: { bytes, unpaddedSize, uncompressedSize } };
  }

  async put(key: string, xml: Buffer, block: XzBlock): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const head = Buffer.alloc(HEADER);
    MAGIC.copy(head, 0);
    head.writeBigUInt64LE(BigInt(block.unpaddedSize), 8);
    head.writeBigUInt64LE(BigInt(block.uncompressedSize), 16);
    createHash('sha1').update(block.bytes).digest().copy(head, 24);
    head.writeUInt32LE(crc32(xml), 44);
    const tmp = tmpName(this.dir, 'blk');
    await fsp.writeFile(tmp, Buffer.concat([head, block.bytes, xml]), { flag: 'wx' });
    await fsp.rename(tmp, this.file(key));
  }

  /** Remove entries used neither by this build (`used`) nor by the previous one. */
  async prune(used: Iterable<string>): Promise<number> {
    const now = new Set(used);
    let prev: string[] = [];
    try {
      prev = JSON.parse(await fsp.readFile(path.join(this.dir, USED_FILE), 'utf8')) as string[];
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT' && !(e instanceof SyntaxError)) throw e;
    }
    const keep = new Set([...now, ...(Array.isArray(prev) ? prev : [])]);
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 0;
      throw e;
    }
    let removed = 0;
    for (const n of names) {
      if (!n.endsWith('.blk') || keep.has(n.slice(0, -4))) continue;
      await fsp.rm(path.join(this.dir, n), { force: true });
      removed++;
    }
    const tmp = tmpName(this.dir, 'used');
    await fsp.writeFile(tmp, JSON.stringify([...now]), { flag: 'wx' });
    await fsp.rename(tmp, path.join(this.dir, USED_FILE));
    return removed;
  }
}
