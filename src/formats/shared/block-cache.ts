/**
 * Cache of index chunks in a folder of a format's private cache directory (one folder per index file).
 * Each entry holds a chunk's compressed xz block, optionally its gzip member (for indexes that also ship
 * a `.gz`), its uncompressed text and, for package groups, a table of its fragments (a sha1 of each
 * package's id and the fragment's place in the text). Entries are keyed by a hash of everything the
 * chunk's text is made from (package ids, asset text, the compression settings and a serialisation
 * version).
 *
 * Entries carry a sha1 of the block and a CRC-32 of the text, checked on read (a damaged entry is a miss),
 * so they are written without fsync: the cache is rebuildable, and verifyIndexes compares the published
 * index with a full regeneration that uses no cache.
 *
 * `last-build.json` lists the previous build's chunks in order (key and first package basename): pruning
 * keeps the blocks of this build and the previous one, and a rebuilt group finds there the groups it
 * replaces, to reuse their fragments instead of rendering every package again.
 */
import crypto, { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../../util/errors.js';
import { mkdirp, tmpName } from '../../util/fsx.js';
import { crc32 } from './crc32.js';
import { XZ_WORK_PREFIX, type XzBlock } from './xz-blocks.js';

const MAGIC = Buffer.from('RCUXZB4\0', 'latin1');
/** magic, unpadded size, uncompressed size, sha1(block), crc32(xml), fragment count, gzip member length, crc32(gzip member). */
const HEADER = 8 + 8 + 8 + 20 + 4 + 4 + 4 + 4;
/** sha1(id), offset, length. */
const ROW = 20 + 4 + 4;
const LAST_BUILD = 'last-build.json';

/** Where one package's fragment sits in a cached group's text. */
export interface FragmentRow {
  idHash: Buffer;
  offset: number;
  length: number;
}

export interface CachedChunk {
  /** The chunk's uncompressed text. */
  xml: Buffer;
  block: XzBlock;
  /** The chunk as one gzip member (empty when the index has no .gz). */
  gz?: Buffer;
  fragments: FragmentRow[];
}

export interface BuildRecord {
  keys: string[];
  /** Sort key of the first package of each chunk ('' for head and tail). */
  firsts: string[];
  /** Sort key of the last package of each chunk, and its package count (what an incremental plan needs). */
  lasts?: string[];
  counts?: number[];
  /** sha256 of the uncompressed index this build wrote, and the plan's settings (see planPackagesFrom). */
  plainSha256?: string;
  planId?: string;
}

/** sha1 of a package id; one-shot crypto.hash where the runtime has it (tens of thousands per pull). */
const oneShot = (crypto as unknown as { hash?: (algo: string, data: string, enc: 'buffer') => Buffer }).hash;
export const idHash = (id: string): Buffer => (oneShot ? oneShot('sha1', id, 'buffer') : createHash('sha1').update(id).digest());

export class BlockCache {
  readonly dir: string;
  /** `dir`: this index's own folder (its last-build record prunes everything else in it). */
  constructor(dir: string) {
    this.dir = dir;
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.blk`);
  }

  async get(key: string): Promise<CachedChunk | undefined> {
    let buf: Buffer;
    try {
      // Synchronous: a few hundred reads of ~300 KB per build, cheaper than a thread-pool round trip each.
      buf = fs.readFileSync(this.file(key));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    if (buf.length < HEADER || !buf.subarray(0, 8).equals(MAGIC)) return undefined;
    const unpaddedSize = Number(buf.readBigUInt64LE(8));
    const uncompressedSize = Number(buf.readBigUInt64LE(16));
    const count = buf.readUInt32LE(48);
    const gzLen = buf.readUInt32LE(52);
    const blockLen = (unpaddedSize + 3) & ~3;
    const blockAt = HEADER + count * ROW;
    if (buf.length !== blockAt + blockLen + gzLen + uncompressedSize) return undefined;
    const bytes = buf.subarray(blockAt, blockAt + blockLen);
    if (!createHash('sha1').update(bytes).digest().equals(buf.subarray(24, 44))) return undefined;
    const gz = buf.subarray(blockAt + blockLen, blockAt + blockLen + gzLen);
    if (crc32(gz) !== buf.readUInt32LE(56)) return undefined;
    const xml = buf.subarray(blockAt + blockLen + gzLen);
    if (crc32(xml) !== buf.readUInt32LE(44)) return undefined;
    const fragments: FragmentRow[] = [];
    for (let i = 0, at = HEADER; i < count; i++, at += ROW) {
      const row = { idHash: buf.subarray(at, at + 20), offset: buf.readUInt32LE(at + 20), length: buf.readUInt32LE(at + 24) };
      if (row.offset + row.length > xml.length) return undefined;
      fragments.push(row);
    }
    return { xml, block: { bytes, unpaddedSize, uncompressedSize }, gz: gzLen > 0 ? gz : undefined, fragments };
  }

  async put(key: string, chunk: CachedChunk): Promise<void> {
    const { xml, block, fragments } = chunk;
    const gz = chunk.gz ?? Buffer.alloc(0);
    await mkdirp(this.dir);
    const head = Buffer.alloc(HEADER + fragments.length * ROW);
    MAGIC.copy(head, 0);
    head.writeBigUInt64LE(BigInt(block.unpaddedSize), 8);
    head.writeBigUInt64LE(BigInt(block.uncompressedSize), 16);
    createHash('sha1').update(block.bytes).digest().copy(head, 24);
    head.writeUInt32LE(crc32(xml), 44);
    head.writeUInt32LE(fragments.length, 48);
    head.writeUInt32LE(gz.length, 52);
    head.writeUInt32LE(crc32(gz), 56);
    fragments.forEach((f, i) => {
      const at = HEADER + i * ROW;
      f.idHash.copy(head, at);
      head.writeUInt32LE(f.offset, at + 20);
      head.writeUInt32LE(f.length, at + 24);
    });
    const tmp = tmpName(this.dir, 'blk');
    const fd = fs.openSync(tmp, 'wx');
    try {
      const parts = [head, block.bytes, gz, xml];
      const total = head.length + block.bytes.length + gz.length + xml.length;
      const done = fs.writevSync(fd, parts);
      // A short write (rare on regular files): write the rest from a single buffer.
      if (done < total) fs.writeFileSync(fd, Buffer.concat(parts).subarray(done));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file(key));
  }

  /** The previous build's chunks; empty when unknown (first build, older cache, damaged record). */
  async lastBuild(): Promise<BuildRecord> {
    try {
      const r = JSON.parse(await fsp.readFile(path.join(this.dir, LAST_BUILD), 'utf8')) as Partial<BuildRecord>;
      if (Array.isArray(r.keys) && Array.isArray(r.firsts) && r.keys.length === r.firsts.length) {
        const n = r.keys.length;
        const full = Array.isArray(r.lasts) && Array.isArray(r.counts) && r.lasts.length === n && r.counts.length === n && typeof r.plainSha256 === 'string' && typeof r.planId === 'string';
        return full ? { keys: r.keys, firsts: r.firsts, lasts: r.lasts, counts: r.counts, plainSha256: r.plainSha256, planId: r.planId } : { keys: r.keys, firsts: r.firsts };
      }
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT' && !(e instanceof SyntaxError)) throw e;
    }
    return { keys: [], firsts: [] };
  }

  /** Record this build, and remove entries used neither by it nor by the previous one. */
  async finishBuild(now: BuildRecord, previous: BuildRecord): Promise<number> {
    const keep = new Set([...now.keys, ...previous.keys]);
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 0;
      throw e;
    }
    let removed = 0;
    for (const n of names) {
      // Files a killed build's xz left behind (the writer lock serialises builds of a repository).
      if (n.startsWith(XZ_WORK_PREFIX) && !n.startsWith(`${XZ_WORK_PREFIX}${process.pid}-`)) {
        fs.rmSync(path.join(this.dir, n), { force: true });
        continue;
      }
      if (!n.endsWith('.blk') || keep.has(n.slice(0, -4))) continue;
      await fsp.rm(path.join(this.dir, n), { force: true });
      removed++;
    }
    const tmp = tmpName(this.dir, 'last');
    await fsp.writeFile(tmp, JSON.stringify(now), { flag: 'wx' });
    await fsp.rename(tmp, path.join(this.dir, LAST_BUILD));
    return removed;
  }
}
