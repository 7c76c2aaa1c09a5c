/**
 * Reading the members of a .deb's ar archive without reading its payload: `!<arch>\n`, then 60-byte
 * member headers (name 16, mtime 12, uid 6, gid 6, mode 8 octal, size 10 decimal, "`\n"), data padded
 * to an even length. Only the leading members (debian-binary, control.tar.*) are ever read.
 */
import fs from 'node:fs';

export interface ArMember {
  name: string;
  /** Offset of the member's data in the file. */
  offset: number;
  size: number;
}

/** A byte source: a buffer in memory or positional reads of an open file. */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Buffer;
}

export function bufferSource(b: Buffer): ByteSource {
  return { size: b.length, read: (o, l) => b.subarray(o, Math.min(b.length, o + l)) };
}

export function fileSource(fd: number): ByteSource {
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(n);
      let done = 0;
      while (done < n) {
        const r = fs.readSync(fd, buf, done, n - done, offset + done);
        if (r === 0) break;
        done += r;
      }
      return buf.subarray(0, done);
    },
  };
}

export const AR_MAGIC = '!<arch>\n';

/** Thrown with a reason a user can act on; the caller names the file. */
export class ArError extends Error {}

/** The member starting at `at`, or undefined at the end of the archive. */
export function memberAt(src: ByteSource, at: number): ArMember | undefined {
  if (at >= src.size) return undefined;
  const h = src.read(at, 60);
  if (h.length < 60) throw new ArError(`truncated ar member header at byte ${at}`);
  if (h[58] !== 0x60 || h[59] !== 0x0a) throw new ArError(`bad ar member header at byte ${at} (no terminator)`);
  const rawName = h.toString('latin1', 0, 16).trimEnd();
  // GNU ar ends names with '/'; dpkg-deb pads them with spaces.
  const name = rawName.endsWith('/') && rawName !== '/' ? rawName.slice(0, -1) : rawName;
  const sizeText = h.toString('latin1', 48, 58).trim();
  if (!/^[0-9]+$/.test(sizeText)) throw new ArError(`bad ar member size '${sizeText}' at byte ${at}`);
  const size = Number(sizeText);
  const offset = at + 60;
  if (offset + size > src.size) throw new ArError(`ar member '${name}' is truncated (${size} bytes declared, ${src.size - offset} present)`);
  return { name, offset, size };
}

/** The next member's header position after `m` (data padded to an even length). */
export const nextAt = (m: ArMember): number => m.offset + m.size + (m.size & 1);
