/**
 * The generic `files` format: any tree of files, indexed by one SHA256SUMS file at the root in the
 * coreutils format (`HASH  PATH`, sorted bytewise by path), so `sha256sum -c SHA256SUMS` checks a mirror.
 * The index is regenerated from the entries' cached hashes: no file is ever re-hashed to write it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Format, IncomingFile, IndexContext, PlaceOptions, Placement, TreeEntry, VerifyContext } from '../format.js';
import { checkTreePath, joinTreePath } from '../../util/paths.js';
import { errnoCode, RcuError } from '../../util/errors.js';
import { tmpName } from '../../util/fsx.js';
import { missingSignatures, signFiles, signingSettingsOf, verifySignatures } from '../../signing/index.js';
import type { SignJob, SigningSettings } from '../../signing/index.js';

export const SUMS_FILE = 'SHA256SUMS';
/** Binary detached signature of SHA256SUMS: the file systemd-sysupdate fetches first. */
export const SUMS_GPG = 'SHA256SUMS.gpg';
/** Armored detached signature (setting signSumsAsc): systemd-sysupdate's fallback, and for people. */
export const SUMS_ASC = 'SHA256SUMS.asc';

/** The signatures this repository's settings ask for, for a tree at `dir`. */
function sumsSignJobs(s: SigningSettings, dir: string): SignJob[] {
  const source = path.join(dir, SUMS_FILE);
  const jobs: SignJob[] = [{ source, target: path.join(dir, SUMS_GPG), kind: 'detached' }];
  if (s.sumsAsc) jobs.push({ source, target: path.join(dir, SUMS_ASC), kind: 'detached-armored' });
  return jobs;
}

/** coreutils escapes names holding a backslash or newline and marks the line with a leading backslash. */
export function sumsLine(e: TreeEntry): string {
  if (e.path.includes('\\') || e.path.includes('\n')) {
    return `\\${e.sha256}  ${e.path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
  }
  return `${e.sha256}  ${e.path}\n`;
}

export function renderSums(entries: readonly TreeEntry[]): string {
  // One join over 100k lines is much faster than repeated concatenation.
  const parts = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) parts[i] = sumsLine(entries[i]!);
  return parts.join('');
}

export const filesFormat: Format = {
  name: 'files',
  indexFiles: [SUMS_FILE, SUMS_GPG, SUMS_ASC],

  async place(file: IncomingFile, opts: PlaceOptions): Promise<Placement> {
    const rel = checkTreePath(file.relPath, file.source);
    const treePath = checkTreePath(joinTreePath(opts.prefix ? checkTreePath(opts.prefix, `--prefix ${opts.prefix}`) : undefined, rel), file.source);
    if (treePath === SUMS_FILE || treePath === SUMS_GPG || treePath === SUMS_ASC) throw new RcuError('BAD_INPUT', `${file.source}: '${treePath}' is a file this format generates; it cannot be imported`);
    return { treePath };
  },

  async describe(): Promise<unknown> {
    return {};
  },

  async writeIndexes(ctx: IndexContext): Promise<string[]> {
    const target = path.join(ctx.stagingDir, SUMS_FILE);
    const tmp = tmpName(ctx.stagingDir);
    await fsp.writeFile(tmp, renderSums(ctx.entries), { flag: 'wx', mode: 0o644 });
    // Durability comes from the transaction's filesystem sync before publishing.
    await fsp.rename(tmp, target);
    // Signed in staging, so SHA256SUMS and its signatures flip together in the same swap.
    const signing = signingSettingsOf(ctx.settings);
    if (!signing) return [SUMS_FILE];
    const jobs = sumsSignJobs(signing, ctx.stagingDir);
    await signFiles(signing, jobs);
    return [SUMS_FILE, ...jobs.map((j) => path.basename(j.target))];
  },

  async verifyIndexes(ctx: VerifyContext): Promise<string[]> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(ctx.snapshotDir, SUMS_FILE), 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [`${SUMS_FILE} is missing`];
      throw e;
    }
    const faults: string[] = [];
    const signing = signingSettingsOf(ctx.settings);
    if (signing) {
      const jobs = sumsSignJobs(signing, ctx.snapshotDir);
      // A transaction checks its own fresh signatures cheaply (they must all be there); `rcurepo verify`
      // checks with gpgv every signature a snapshot has (one published before signing was configured has none).
      faults.push(...(ctx.quick ? missingSignatures(signing, jobs) : await verifySignatures(signing, jobs.filter((j) => fs.existsSync(j.target)))));
    }
    const expected = renderSums(ctx.entries);
    if (text === expected) return faults;
    const have = text.split('\n');
    const want = expected.split('\n');
    for (let i = 0; i < Math.max(have.length, want.length) && faults.length < 5; i++) {
      if (have[i] !== want[i]) faults.push(`${SUMS_FILE} line ${i + 1}: '${have[i] ?? '(end)'}', expected '${want[i] ?? '(end)'}'`);
    }
    return faults;
  },
};
