/**
 * What an upload directory may hand us. The pool's bytes are the pool's own: uploads are copied (never
 * linked), and anything that could make the uploader's later actions reach into a snapshot, or make us
 * read something other than the upload, is refused: symbolic links (also in parent folders), hard links
 * to files with other names (nlink > 1: the same inode is reachable, and writable, from elsewhere),
 * devices, FIFOs and sockets.
 */
import fsp from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { errnoCode, RcuError } from '../util/errors.js';
import { checkTreePath } from '../util/paths.js';

/** Why this lstat result may not be taken as an upload, or undefined when it may. */
export function refuseReason(st: Stats): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.isDirectory()) return 'is a directory';
  if (!st.isFile()) return 'is not a regular file (device, FIFO or socket)';
  if (st.nlink > 1) return `is a hard link shared with ${st.nlink - 1} other name(s) (nlink ${st.nlink})`;
  return undefined;
}

/**
 * Resolve `rel` inside `dir` and check it is a safe upload: relative, no '..', no symbolic link on the
 * way, a regular unshared file. Throws BAD_INPUT naming the file.
 */
export async function checkUpload(dir: string, rel: string, what: string): Promise<{ abs: string; rel: string; st: Stats }> {
  const clean = checkTreePath(rel, `${what}: '${rel}'`);
  const parts = clean.split('/');
  let cur = dir;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i]!);
    let st: Stats;
    try {
      st = await fsp.lstat(cur);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw new RcuError('BAD_INPUT', `${what}: '${clean}' is missing`);
      throw e;
    }
    const last = i === parts.length - 1;
    if (!last) {
      if (st.isSymbolicLink()) throw new RcuError('BAD_INPUT', `${what}: '${clean}': folder '${parts.slice(0, i + 1).join('/')}' is a symbolic link`);
      if (!st.isDirectory()) throw new RcuError('BAD_INPUT', `${what}: '${clean}': '${parts.slice(0, i + 1).join('/')}' is not a folder`);
      continue;
    }
    const why = refuseReason(st);
    if (why) throw new RcuError('BAD_INPUT', `${what}: '${clean}' ${why}`);
    return { abs: cur, rel: clean, st };
  }
  throw new RcuError('BAD_INPUT', `${what}: empty path`);
}
