/**
 * Turning what the user named on the command line (files, directories, glob patterns) into a list of
 * candidate files, refusing anything unsafe before a single byte is copied.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, RcuError } from '../util/errors.js';
import { checkTreePath } from '../util/paths.js';

export interface InputFile {
  /** Absolute path to read. */
  abs: string;
  /** Path relative to the named directory, or the basename of a named file. */
  rel: string;
}

export interface CollectOptions {
  cwd: string;
  followSymlinks?: boolean;
}

/** Collects every file; throws one BAD_INPUT listing every refused path. */
export async function collectInputs(args: readonly string[], opts: CollectOptions): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const refused: string[] = [];
  for (const arg of args) {
    const abs = path.resolve(opts.cwd, arg);
    const literal = await fsp.lstat(abs).catch((e) => {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw e;
    });
    // Loaded only for patterns: most imports name plain paths, and every CLI start pays for what it loads.
    const { glob, isDynamicPattern } = literal ? { glob: undefined, isDynamicPattern: () => false } : await import('tinyglobby');
    if (!literal && isDynamicPattern(arg) && glob) {
      const matches = await glob(arg, { cwd: opts.cwd, absolute: true, dot: false, onlyFiles: false, followSymbolicLinks: false, expandDirectories: false });
      if (matches.length === 0) refused.push(`${arg}: pattern matches nothing`);
      for (const m of matches.sort()) await addPath(m.replace(/\/$/, ''), out, refused, opts);
      continue;
    }
    if (!literal) {
      refused.push(`${arg}: no such file or directory`);
      continue;
    }
    await addPath(abs, out, refused, opts);
  }
  for (const f of out) {
    try {
      checkTreePath(f.rel, f.abs);
    } catch (e) {
      refused.push((e as Error).message);
    }
  }
  if (refused.length) {
    throw new RcuError('BAD_INPUT', refused.length === 1 ? refused[0]! : `${refused.length} inputs refused; nothing was imported`, { details: refused.length === 1 ? [] : refused });
  }
  return out;
}

async function addPath(abs: string, out: InputFile[], refused: string[], opts: CollectOptions): Promise<void> {
  const st = await fsp.lstat(abs);
  if (st.isSymbolicLink()) {
    if (!opts.followSymlinks) {
      refused.push(`${abs}: is a symbolic link (use --follow-symlinks to import its target)`);
      return;
    }
    const target = await fsp.realpath(abs).catch(() => undefined);
    const tst = target ? await fsp.stat(target) : undefined;
    if (!target || !tst) {
      refused.push(`${abs}: is a dangling symbolic link`);
      return;
    }
    if (tst.isFile()) out.push({ abs: target, rel: path.basename(abs) });
    else if (tst.isDirectory()) await walkInput(target, '', out, refused, opts);
    else refused.push(`${abs}: links to something that is not a regular file or directory`);
    return;
  }
  if (st.isFile()) out.push({ abs, rel: path.basename(abs) });
  else if (st.isDirectory()) await walkInput(abs, '', out, refused, opts);
  else refused.push(`${abs}: is not a regular file or directory`);
}

async function walkInput(root: string, rel: string, out: InputFile[], refused: string[], opts: CollectOptions): Promise<void> {
  const dir = rel ? path.join(root, rel) : root;
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'EACCES') {
      refused.push(`${dir}: cannot read directory (permission denied)`);
      return;
    }
    throw e;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const abs = path.join(root, r);
    if (e.isDirectory()) await walkInput(root, r, out, refused, opts);
    else if (e.isFile()) out.push({ abs, rel: r });
    else if (e.isSymbolicLink()) {
      if (!opts.followSymlinks) refused.push(`${abs}: is a symbolic link (use --follow-symlinks to import its target)`);
      else {
        const target = await fsp.realpath(abs).catch(() => undefined);
        const st = target ? await fsp.stat(target).catch(() => undefined) : undefined;
        if (st?.isFile()) out.push({ abs: target!, rel: r });
        else if (st?.isDirectory()) await walkInput(root, r, out, refused, opts);
        else refused.push(`${abs}: symbolic link to nothing importable`);
      }
    } else refused.push(`${abs}: is not a regular file or directory`);
  }
}
