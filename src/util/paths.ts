/** Validation and ordering of repository-visible paths (POSIX, relative, normalised). */
import path from 'node:path';
import { RcuError } from './errors.js';

/**
 * Normalise a user-supplied tree path and refuse anything that could escape the tree or break an index:
 * absolute paths, '..' components, NUL, newline or carriage return characters, empty components.
 */
export function checkTreePath(p: string, source: string = p): string {
  if (p.includes('\0')) throw new RcuError('BAD_INPUT', `${source}: file name contains a NUL character`);
  if (/[\n\r]/.test(p)) throw new RcuError('BAD_INPUT', `${JSON.stringify(source)}: file name contains a newline`);
  if (p.startsWith('/')) throw new RcuError('BAD_INPUT', `${source}: absolute path not allowed inside a repository`);
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.length === 0) throw new RcuError('BAD_INPUT', `${source}: empty path`);
  if (parts.some((x) => x === '..')) throw new RcuError('BAD_INPUT', `${source}: path escapes the repository tree ('..')`);
  return parts.join('/');
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
