/**
 * The watcher's decisions, recorded before they are carried out (refusals durably; see decide()), so a crash (kill -9) at any point
 * resumes them: <incoming>/.rcurepo-watch/journal/<id>.json says "delete these accepted uploads" or "move
 * these refused uploads into rejected/ with this reason". Carrying a decision out is idempotent, and it
 * touches a file only if it is still the very file judged (same inode, size and mtime): an upload that
 * arrived under the same name since is left for the next round.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoCode } from '../util/errors.js';
import { writeFileAtomic, listDir, mkdirp } from '../util/fsx.js';

export interface FileIdentity {
  /** Path relative to the incoming directory (for a name that is not valid UTF-8: as shown, escaped). */
  rel: string;
  /** The name's bytes in hex, when they are not valid UTF-8 (the file is then reached by these bytes). */
  raw?: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface Decision {
  id: string;
  kind: 'accepted' | 'rejected';
  /** The upload as the log names it (manifest or bare file name). */
  name: string;
  /** Files to delete or move; the commit signal (the manifest) comes last, so it is the last to go. */
  files: FileIdentity[];
  /** rejected: destination names inside rejected/, parallel to files, chosen when deciding. */
  dest?: string[];
  reason?: string;
  /** What the uploader is told (bin/rcurepo-upload waits for it): import's exit code, and the generation. */
  verdict?: Verdict;
}

export interface Verdict {
  exitCode: number;
  repo?: string;
  generation?: number;
}

export const STATE_DIR = '.rcurepo-watch';
export const REJECTED_DIR = 'rejected';

export const journalDir = (incoming: string) => path.join(incoming, STATE_DIR, 'journal');
export const verdictsDir = (incoming: string) => path.join(incoming, STATE_DIR, 'verdicts');
/** `wake/<upload name>`: a FIFO an uploader waiting for its verdict reads (bin/rcurepo-upload). */
export const wakeDir = (incoming: string) => path.join(incoming, STATE_DIR, 'wake');
/** `ready/<manifest name>`: an uploader's word that it placed the upload by renames (watch-wake.ts). */
export const readyDir = (incoming: string) => path.join(incoming, STATE_DIR, 'ready');
/**
 * One of the watcher's folders, made again where something else holds its name. Uploaders write under
 * STATE_DIR (FIFOs, ready markers): a stray file or link in a folder's place costs its wake-ups until
 * the next check, it must not stop the watcher. Returns whether something was replaced.
 */
export async function stateFolder(dir: string): Promise<boolean> {
  const replaced = await folderAt(dir, async () => {
    await fsp.rm(dir, { force: true });
    return true;
  });
  return replaced ?? false;
}

/** `dir` as a folder: made when missing; anything else found there is first handed to `displace`, whose report is returned. */
async function folderAt<T>(dir: string, displace: () => Promise<T>): Promise<T | undefined> {
  try {
    if ((await fsp.lstat(dir)).isDirectory()) return undefined;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
    await mkdirp(dir);
    return undefined;
  }
  const report = await displace();
  await mkdirp(dir);
  return report;
}

/** Verdicts nobody collected (an uploader that gave up) are removed after this long. */
const VERDICT_TTL_MS = 3600_000;

/**
 * `verdicts/<upload name>`: key=value lines (outcome, exit, repo, generation, reason) a POSIX shell reads
 * with `read`; written before the upload's files are deleted or moved, so an uploader that sees its files
 * gone always finds its verdict (also when the decision is carried out after a crash).
 */
async function writeVerdict(incoming: string, d: Decision): Promise<void> {
  if (!d.verdict) return;
  const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' | ');
  const lines = [
    `outcome=${d.kind}`,
    `exit=${d.verdict.exitCode}`,
    ...(d.verdict.repo ? [`repo=${d.verdict.repo}`] : []),
    ...(d.verdict.generation !== undefined ? [`generation=${d.verdict.generation}`] : []),
    ...(d.reason ? [`reason=${oneLine(d.reason)}`] : []),
  ];
  await stateFolder(verdictsDir(incoming));
  // No fsync: a verdict is for an uploader waiting now; after a machine crash there is none (and the
  // journal, which is synced, says the decision again).
  await writeFileAtomic(path.join(verdictsDir(incoming), d.name), lines.join('\n') + '\n', { syncData: false, syncDir: false });
}

/**
 * Wake the uploader of `name` if it waits on its FIFO (once its upload has been deleted or moved, so a
 * client that returns finds incoming as the verdict says): one newline, never blocking (no FIFO, nobody
 * reading, a full pipe: nothing to do; the client also looks again every second).
 */
async function wakeUploader(incoming: string, name: string): Promise<void> {
  const { O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path.join(wakeDir(incoming), name), O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
  } catch {
    return; // ENOENT (a client without FIFO), ENXIO (it stopped waiting), ELOOP...
  }
  try {
    if ((await fh.stat()).isFIFO()) await fh.write('\n');
  } catch {
    // EAGAIN: the pipe is full of wake-ups already.
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The state folders under STATE_DIR. */
const stateFolders = (incoming: string) => [journalDir(incoming), verdictsDir(incoming), wakeDir(incoming), readyDir(incoming)];

/**
 * rejected/, made a folder again where something else holds its name (an upload named "rejected", a
 * link): that is moved aside under a dot name the scans never take, `.rejected.<ms>.stray`; nothing is
 * deleted. Returns the name it was moved to.
 */
async function rejectedFolder(incoming: string): Promise<string | undefined> {
  const dir = path.join(incoming, REJECTED_DIR);
  return folderAt(dir, async () => {
    const aside = `.${REJECTED_DIR}.${Date.now()}.stray`;
    await fsp.rename(dir, path.join(incoming, aside));
    return aside;
  });
}

/**
 * The watcher's folders checked (a few lstat calls): what had to be replaced or moved aside, for the log.
 * `.rcurepo-watch` itself holds the watcher's lock, so it is checked once, before the lock is taken.
 */
export async function repairFolders(incoming: string): Promise<{ folder: string; movedTo?: string }[]> {
  const out: { folder: string; movedTo?: string }[] = [];
  for (const dir of stateFolders(incoming)) if (await stateFolder(dir)) out.push({ folder: dir });
  const aside = await rejectedFolder(incoming);
  if (aside) out.push({ folder: path.join(incoming, REJECTED_DIR), movedTo: path.join(incoming, aside) });
  return out;
}

/** Drop verdicts, wake-up FIFOs and ready markers older than VERDICT_TTL_MS (their uploader is gone). */
export async function pruneVerdicts(incoming: string, now = Date.now()): Promise<void> {
  for (const dir of [verdictsDir(incoming), wakeDir(incoming), readyDir(incoming)]) {
    let names: string[];
    try {
      names = await listDir(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOTDIR') continue; // replaced by the next repairFolders
      throw e;
    }
    for (const n of names) {
      const f = path.join(dir, n);
      const st = await fsp.lstat(f).catch(() => undefined);
      if (st && now - st.mtimeMs > VERDICT_TTL_MS) await fsp.rm(f, { force: true });
    }
  }
}

/** The file's path; as bytes when its name is not valid UTF-8 (a string would name another file). */
export function pathOf(incoming: string, f: { rel: string; raw?: string }): string | Buffer {
  if (f.raw === undefined) return path.join(incoming, f.rel);
  return Buffer.concat([Buffer.from(incoming + path.sep), Buffer.from(f.raw, 'hex')]);
}

export async function identityOf(incoming: string, rel: string, raw?: string): Promise<FileIdentity | undefined> {
  try {
    const st = await fsp.lstat(pathOf(incoming, { rel, raw }));
    return { rel, ...(raw !== undefined ? { raw } : {}), ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    throw e;
  }
}

async function stillSame(incoming: string, f: FileIdentity): Promise<boolean> {
  const now = await identityOf(incoming, f.rel, f.raw);
  return !!now && now.ino === f.ino && now.size === f.size && now.mtimeMs === f.mtimeMs;
}

/** A free name in rejected/ for `rel` (flattened), not colliding with earlier rejections. */
async function freeRejectedName(incoming: string, rel: string, taken: Set<string>): Promise<string> {
  const flat = rel.replace(/\//g, '__');
  for (let n = 0; ; n++) {
    const cand = n === 0 ? flat : `${flat}.${n}`;
    if (taken.has(cand)) continue;
    if (!(await identityOf(path.join(incoming, REJECTED_DIR), cand)) && !(await identityOf(path.join(incoming, REJECTED_DIR), `${cand}.reason.txt`))) {
      taken.add(cand);
      return cand;
    }
  }
}

export async function decide(incoming: string, d: Omit<Decision, 'id' | 'dest'>): Promise<Decision> {
  const dec: Decision = { ...d, id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}` };
  if (d.kind === 'rejected') {
    await mkdirp(path.join(incoming, REJECTED_DIR));
    const taken = new Set<string>();
    dec.dest = [];
    for (const f of d.files) dec.dest.push(await freeRejectedName(incoming, f.rel, taken));
  }
  await stateFolder(journalDir(incoming));
  // An acceptance needs no fsync: its publish is durable already, and after a machine crash that lost
  // the record, an upload still there is imported again and answered "already published"; one already
  // deleted needs nothing. (A round of fifty uploads paid a hundred fsyncs for it.) A refusal is synced:
  // its files are moved away, and the record says where and why.
  await writeFileAtomic(path.join(journalDir(incoming), `${dec.id}.json`), JSON.stringify(dec), d.kind === 'accepted' ? { syncData: false, syncDir: false } : {});
  return dec;
}

/** Carry a decision out (again, after a crash) and drop it from the journal. */
export async function execute(incoming: string, d: Decision): Promise<void> {
  await writeVerdict(incoming, d);
  if (d.kind === 'rejected') {
    const rej = path.join(incoming, REJECTED_DIR);
    await mkdirp(rej);
    // The reason first: whatever is in rejected/ always has its explanation beside it.
    const last = d.dest![d.dest!.length - 1]!;
    const text = `${d.name}: refused ${new Date().toISOString()}\n${d.reason ?? ''}\nfiles: ${d.files.map((f, i) => `${f.rel} -> ${REJECTED_DIR}/${d.dest![i]}`).join(', ')}\n`;
    await writeFileAtomic(path.join(rej, `${last}.reason.txt`), text);
    for (const [i, f] of d.files.entries()) {
      if (!(await stillSame(incoming, f))) continue;
      try {
        await fsp.rename(pathOf(incoming, f), path.join(rej, d.dest![i]!));
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
  } else {
    for (const f of d.files) {
      if (!(await stillSame(incoming, f))) continue;
      await fsp.rm(pathOf(incoming, f), { force: true });
    }
  }
  // The marker goes with its manifest: a later upload under the same name makes its own.
  await fsp.rm(path.join(readyDir(incoming), d.name), { force: true });
  if (d.verdict) await wakeUploader(incoming, d.name);
  await fsp.rm(path.join(journalDir(incoming), `${d.id}.json`), { force: true });
}

/** Decisions a crashed watcher left unfinished. */
export async function pendingDecisions(incoming: string): Promise<Decision[]> {
  const names = await listDir(journalDir(incoming));
  const out: Decision[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(await fsp.readFile(path.join(journalDir(incoming), n), 'utf8')) as Decision);
    } catch (e) {
      if (!(e instanceof SyntaxError) && errnoCode(e) !== 'ENOENT') throw e;
    }
  }
  return out;
}
