/** Validation and ordering of repository-visible paths (POSIX, relative, normalised). */
import path from 'node:path';
import { RcuError } from './errors.js';

/** Linux NAME_MAX: bytes in one file or folder name. */
export const MAX_NAME_BYTES = 255;
/**
 * Bytes in a whole tree path: PATH_MAX (4096) less room for the base and `repos/NAME/staging/GEN/`, so
 * that every path the tree needs can be made. Refused up front rather than met as ENAMETOOLONG halfway.
 */
export const MAX_TREE_PATH_BYTES = 3072;

/**
 * Normalise a user-supplied tree path and refuse anything that could escape the tree or break an index:
 * absolute paths, '..' components, NUL, newline or carriage return characters, empty components, and
 * names or paths longer than the filesystem can hold.
 */
export function checkTreePath(p: string, source: string = p): string {
  if (p.includes('\0')) throw new RcuError('BAD_INPUT', `${source}: file name contains a NUL character`);
  if (/[\n\r]/.test(p)) throw new RcuError('BAD_INPUT', `${JSON.stringify(source)}: file name contains a newline`);
  if (p.startsWith('/')) throw new RcuError('BAD_INPUT', `${source}: absolute path not allowed inside a repository`);
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.length === 0) throw new RcuError('BAD_INPUT', `${source}: empty path`);
  if (parts.some((x) => x === '..')) throw new RcuError('BAD_INPUT', `${source}: path escapes the repository tree ('..')`);
  const long = parts.find((x) => Buffer.byteLength(x) > MAX_NAME_BYTES);
  if (long !== undefined) throw new RcuError('BAD_INPUT', `${source}: name too long: ${Buffer.byteLength(long)} bytes, at most ${MAX_NAME_BYTES} ('${long.slice(0, 40)}...')`);
  const joined = parts.join('/');
  if (Buffer.byteLength(joined) > MAX_TREE_PATH_BYTES) throw new RcuError('BAD_INPUT', `${source}: path too long: ${Buffer.byteLength(joined)} bytes, at most ${MAX_TREE_PATH_BYTES}`);
  return joined;
}

export function joinTreePath(prefix: string | undefined, rel: string): string {
  return prefix ? path.posix.join(prefix, rel) : rel;
}

/**
 * Bytewise (UTF-8) order. UTF-8 byte order equals code point order; JavaScript's `<` compares UTF-16
 * code units, which differs only when a surrogate pair meets a character in U+E000..U+FFFF.
 */
export function compareBytewise(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      const cx = a.codePointAt(i)!;
      const cy = b.codePointAt(i)!;
      return cx < cy ? -1 : cx > cy ? 1 : 0;
    }
    return x - y;
  }
  return a.length - b.length;
}
