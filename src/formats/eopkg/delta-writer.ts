/**
 * Write one delta package, streaming: the new build's small members (metadata.xml, files.xml, comar/...)
 * are copied as they are, and its install.tar.xz flows `xz -d` -> a tar reader that keeps only the
 * selected entries -> a tar writer -> `xz -6` -> the zip, stored. No payload is ever held whole in
 * memory: what is buffered is bounded by the streams' high-water marks, whatever the package's size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import yazl from 'yazl';
import { errnoCode } from '../../util/errors.js';
import { FILES_XML_CAP, normalizeTarPath, parseFilesXml, selectDeltaFiles, type FileEntry } from './files-xml.js';
import { exited, xzArgs, xzEnv } from '../shared/xz-blocks.js';
import { openMemberStream, readZipMembers } from './zip.js';

export const INSTALL_MEMBER = 'install.tar.xz';
/** eopkg compresses install archives at xz's default level (the real deltas' blocks show an 8 MiB dictionary: level 6). */
export const DELTA_XZ_PRESET = 6;

/** A package that cannot serve as either side of a delta; `side` says which. */
export class DeltaInputError extends Error {
  constructor(readonly side: 'old' | 'new', message: string) {
    super(message);
  }
}

export interface DeltaWritten {
  kind: 'delta';
  sha256: string;
  sha1: string;
  size: number;
  /** Entries carried in install.tar.xz (0: the delta has no install.tar.xz). */
  carried: number;
  total: number;
}

export type DeltaOutcome = DeltaWritten | { kind: 'pointless'; total: number };

/** files.xml of a package (the old side needs nothing else). */
export async function readPackageFiles(file: string, side: 'old' | 'new'): Promise<FileEntry[]> {
  try {
    const z = await readZipMembers(file, ['files.xml'], FILES_XML_CAP);
    const x = z.data.get('files.xml');
    if (!x) throw new Error('no files.xml member');
    return parseFilesXml(x);
  } catch (e) {
    throw new DeltaInputError(side, (e as Error).message);
  }
}

/**
 * Make the delta from a build whose files.xml lists `oldFiles` into the package at `newFile`, written to
 * `outPath` (created, mode 0444). Nothing is written when the delta would be pointless.
 */
export async function writeDelta(oldFiles: readonly FileEntry[], newFile: string, outPath: string): Promise<DeltaOutcome> {
  let members;
  try {
    members = await readZipMembers(newFile, (n) => n !== INSTALL_MEMBER, FILES_XML_CAP);
  } catch (e) {
    throw new DeltaInputError('new', (e as Error).message);
  }
  const filesXml = members.data.get('files.xml');
  if (!filesXml || !members.data.has('metadata.xml')) throw new DeltaInputError('new', 'no metadata.xml or files.xml member');
  let newFiles: FileEntry[];
  try {
    newFiles = parseFilesXml(filesXml);
  } catch (e) {
    throw new DeltaInputError('new', (e as Error).message);
  }
  const sel = selectDeltaFiles(oldFiles, newFiles);
  if (sel.pointless) return { kind: 'pointless', total: sel.total };
  const install = members.members.find((m) => m.name === INSTALL_MEMBER);
  if (!install && sel.carried.size > 0) throw new DeltaInputError('new', `no ${INSTALL_MEMBER} member`);

  const zip = new yazl.ZipFile();
  // The new build's members in their order, same bytes; the filtered install archive last (as eopkg).
  for (const m of members.members) {
    if (m.name === INSTALL_MEMBER) continue;
    zip.addBuffer(members.data.get(m.name)!, m.name, { mtime: m.mtime, mode: 0o100644, compress: m.compressionMethod !== 0 });
  }
  const children: ChildProcess[] = [];
  const work: Promise<unknown>[] = [];
  let closeInput = () => undefined as void;
  if (sel.carried.size > 0) {
    const { stream: input, close } = await openMemberStream(newFile, INSTALL_MEMBER).catch((e: Error) => {
      throw new DeltaInputError('new', e.message);
    });
    closeInput = close;
    const unxz = spawnXz(['-d', '-c', '--format=xz', '--single-stream'], children);
    const xz = spawnXz(xzArgs(DELTA_XZ_PRESET), children);
    const extract = tarStream.extract();
    const pack = tarStream.pack();
    unxz.stdin!.on('error', () => undefined); // EPIPE when xz fails early: its exit status says why
    xz.stdin!.on('error', () => undefined);
    input.on('error', (e: Error) => extract.destroy(new DeltaInputError('new', `${INSTALL_MEMBER}: ${e.message}`)));
    input.pipe(unxz.stdin!);
    unxz.stdout!.pipe(extract);
    pack.pipe(xz.stdin!);
    work.push(
      exited(unxz, ['-d']).catch((e: Error) => {
        throw new DeltaInputError('new', `${INSTALL_MEMBER} does not decompress: ${e.message}`);
      }),
      exited(xz, xzArgs(DELTA_XZ_PRESET)),
      filterEntries(extract, pack, sel.carried),
    );
    zip.addReadStream(xz.stdout!, INSTALL_MEMBER, { mtime: install!.mtime, mode: 0o100644, compress: false });
  }
  zip.end();
  const h256 = createHash('sha256');
  const h1 = createHash('sha1');
  let size = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h256.update(chunk);
      h1.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const out = fs.createWriteStream(outPath, { flags: 'wx', mode: 0o444 });
  work.push(pipeline(zip.outputStream, hasher, out));
  for (const w of work) w.catch(() => undefined); // the first failure is reported below; the rest follow from it
  try {
    await Promise.all(work);
  } catch (e) {
    for (const c of children) c.kill('SIGKILL');
    (zip.outputStream as Readable).destroy();
    out.destroy();
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('close', r)) : undefined)));
    throw e;
  } finally {
    closeInput();
  }
  return { kind: 'delta', sha256: h256.digest('hex'), sha1: h1.digest('hex'), size, carried: sel.carried.size, total: sel.total };
}

function spawnXz(args: string[], children: ChildProcess[]): ChildProcess {
  const p = spawn('xz', args, { stdio: ['pipe', 'pipe', 'pipe'], env: xzEnv() });
  children.push(p);
  p.on('error', (e) => {
    if (errnoCode(e) === 'ENOENT') e.message = 'xz is not installed (install xz-utils): it is needed to make delta packages';
  });
  return p;
}

/**
 * Copy the selected entries from the new build's tar to the delta's, checking each carried file's sha1
 * (of its content, or of its target for a symlink) against files.xml on the way.
 */
async function filterEntries(extract: tarStream.Extract, pack: tarStream.Pack, carried: ReadonlyMap<string, string | undefined>): Promise<void> {
  const seen = new Set<string>();
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const p = normalizeTarPath(h.name);
      if (!carried.has(p) || seen.has(p)) {
        entry.resume();
        continue;
      }
      seen.add(p);
      const expect = carried.get(p);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const sha = createHash('sha1');
        let done!: Promise<void>;
        const w = await new Promise<NodeJS.WritableStream>((resolve) => {
          done = new Promise<void>((ok, fail) => resolve(pack.entry({ ...h }, (err) => (err ? fail(err) : ok()))));
        });
        for await (const chunk of entry) {
          sha.update(chunk as Buffer);
          if (!w.write(chunk as Buffer)) await new Promise((r) => w.once('drain', r));
        }
        w.end();
        await done;
        if (expect !== undefined && sha.digest('hex') !== expect) throw new DeltaInputError('new', `${p}: its content does not match its files.xml Hash`);
      } else {
        entry.resume();
        if (h.type === 'symlink' && expect !== undefined && createHash('sha1').update(h.linkname ?? '').digest('hex') !== expect) {
          throw new DeltaInputError('new', `${p}: its link target does not match its files.xml Hash`);
        }
        await new Promise<void>((ok, fail) => pack.entry({ ...h }, (err) => (err ? fail(err) : ok())));
      }
    }
  } catch (e) {
    pack.destroy();
    throw e instanceof DeltaInputError ? e : new DeltaInputError('new', `${INSTALL_MEMBER}: ${(e as Error).message}`);
  }
  const missing = [...carried.keys()].filter((k) => !seen.has(k));
  if (missing.length) {
    pack.destroy();
    throw new DeltaInputError('new', `files.xml lists ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'} its ${INSTALL_MEMBER} lacks (${missing.slice(0, 3).join(', ')})`);
  }
  pack.finalize();
}
