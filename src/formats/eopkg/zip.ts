/**
 * Read one member of a ZIP archive (an .eopkg) without extracting anything else: yauzl reads the central
 * directory; only the wanted member is inflated, with a size cap and a CRC check.
 */
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { crc32 } from '../shared/crc32.js';

/** Thrown for an archive the reader refuses; callers turn it into an RcuError naming the file. */
export class ZipError extends Error {}

export interface ZipMemberInfo {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
  compressionMethod: number;
  /** The member's modification time as the archive records it. */
  mtime: Date;
}

export interface ZipRead {
  members: ZipMemberInfo[];
  /** Bytes of each requested member that exists. */
  data: Map<string, Buffer>;
}

const ZIP_OPTIONS = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false, decodeStrings: true } as const;

const LOCAL_HEADER_SIGNATURE = 0x04034b50;

/**
 * A member of an archive already in memory, inflated in one synchronous call: yauzl's read stream costs
 * ~0.25 ms of stream machinery per member, more than inflating a metadata.xml. Same checks: the local
 * header must be where the central directory says, the size must be what it declares and within `cap`.
 */
function inflateInMemory(archive: Buffer, entry: yauzl.Entry, cap: number): Buffer {
  const at = entry.relativeOffsetOfLocalHeader;
  if (at + 30 > archive.length || archive.readUInt32LE(at) !== LOCAL_HEADER_SIGNATURE) throw new ZipError(`member ${entry.fileName} has no local header where the directory says`);
  const start = at + 30 + archive.readUInt16LE(at + 26) + archive.readUInt16LE(at + 28);
  if (start + entry.compressedSize > archive.length) throw new ZipError(`archive is truncated (member ${entry.fileName} reaches past the end of the file)`);
  const raw = archive.subarray(start, start + entry.compressedSize);
  let out: Buffer;
  if (entry.compressionMethod === 0) out = Buffer.from(raw);
  else {
    try {
      out = inflateRawSync(raw, { maxOutputLength: cap });
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new ZipError(`member ${entry.fileName} is larger than ${cap} bytes`);
      throw new ZipError(`member ${entry.fileName} is corrupt or truncated (${(e as Error).message})`);
    }
  }
  if (out.length !== entry.uncompressedSize) throw new ZipError(`member ${entry.fileName} is ${out.length} bytes, its directory entry says ${entry.uncompressedSize}`);
  return out;
}

/** A path is opened (and read with positioned reads); bytes already in memory are parsed without any I/O. */
function openZip(source: string | Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zf?: yauzl.ZipFile) => {
      if (err || !zf) reject(new ZipError(`not a valid zip archive (${err?.message ?? 'unreadable'})`));
      else resolve(zf);
    };
    if (typeof source === 'string') yauzl.open(source, ZIP_OPTIONS, done);
    else yauzl.fromBuffer(source, ZIP_OPTIONS, done);
  });
}

function readEntry(zf: yauzl.ZipFile, entry: yauzl.Entry, cap: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(new ZipError(`cannot read member ${entry.fileName} (${err?.message ?? 'no stream'})`));
        return;
      }
      const parts: Buffer[] = [];
      let total = 0;
      stream.on('data', (b: Buffer) => {
        total += b.length;
        if (total > cap) {
          stream.destroy();
          reject(new ZipError(`member ${entry.fileName} is larger than ${cap} bytes`));
          return;
        }
        parts.push(b);
      });
      stream.on('error', (e: Error) => reject(new ZipError(`member ${entry.fileName} is corrupt or truncated (${e.message})`)));
      stream.on('end', () => resolve(Buffer.concat(parts)));
    });
  });
}

/**
 * List an archive's members and read the named ones (each at most `cap` bytes uncompressed).
 * Refuses: not a zip, truncated archives (a member's data reaching past the end), duplicate member names,
 * compression methods other than stored/deflate, CRC mismatches of the members read.
 */
export async function readZipMembers(file: string | Buffer, want: readonly string[] | ((name: string) => boolean), cap: number): Promise<ZipRead> {
  const wanted = typeof want === 'function' ? want : (n: string) => want.includes(n);
  const fileSize = typeof file === 'string' ? (await fsp.stat(file)).size : file.length;
  const zf = await openZip(file);
  const members: ZipMemberInfo[] = [];
  const data = new Map<string, Buffer>();
  const seen = new Set<string>();
  try {
    await new Promise<void>((resolve, reject) => {
      zf.on('error', (e: Error) => reject(new ZipError(`corrupt or truncated zip archive (${e.message})`)));
      zf.on('end', () => resolve());
      zf.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          const name = entry.fileName;
          if (seen.has(name)) throw new ZipError(`duplicate member ${name}`);
          seen.add(name);
          if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
            throw new ZipError(`member ${name} uses unsupported compression method ${entry.compressionMethod}`);
          }
          if ((entry.generalPurposeBitFlag & 0x1) !== 0) throw new ZipError(`member ${name} is encrypted`);
          if (entry.relativeOffsetOfLocalHeader + 30 + Buffer.byteLength(name) + entry.compressedSize > fileSize) {
            throw new ZipError(`archive is truncated (member ${name} reaches past the end of the file)`);
          }
          members.push({ name, compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize, compressionMethod: entry.compressionMethod, mtime: entry.getLastModDate() });
          if (wanted(name)) {
            if (entry.uncompressedSize > cap) throw new ZipError(`member ${name} is larger than ${cap} bytes (${entry.uncompressedSize})`);
            const buf = typeof file === 'string' ? await readEntry(zf, entry, cap) : inflateInMemory(file, entry, cap);
            if (crc32(buf) !== entry.crc32) throw new ZipError(`member ${name} fails its CRC check (corrupt)`);
            data.set(name, buf);
          }
          zf.readEntry();
        })().catch((e: unknown) => reject(e instanceof ZipError ? e : new ZipError(`corrupt zip archive (${(e as Error).message})`)));
      });
      zf.readEntry();
    });
  } finally {
    zf.close();
  }
  return { members, data };
}

/**
 * A read stream of one member's (inflated) bytes, for members too large to hold in memory (a package's
 * install.tar.xz). `close` releases the archive once the stream has been consumed or abandoned.
 */
export async function openMemberStream(file: string, name: string): Promise<{ stream: Readable; close: () => void }> {
  const zf = await openZip(file);
  try {
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      zf.on('error', (e: Error) => reject(new ZipError(`corrupt or truncated zip archive (${e.message})`)));
      zf.on('end', () => resolve(undefined));
      zf.on('entry', (e: yauzl.Entry) => (e.fileName === name ? resolve(e) : zf.readEntry()));
      zf.readEntry();
    });
    if (!entry) throw new ZipError(`no ${name} member`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw new ZipError(`member ${name} uses unsupported compression method ${entry.compressionMethod}`);
    const stream = await new Promise<Readable>((resolve, reject) =>
      zf.openReadStream(entry, (err, s) => (err || !s ? reject(new ZipError(`cannot read member ${name} (${err?.message ?? 'no stream'})`)) : resolve(s))),
    );
    return { stream, close: () => zf.close() };
  } catch (e) {
    zf.close();
    throw e;
  }
}
