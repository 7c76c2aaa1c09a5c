/**
 * The `control` file of a .deb: find control.tar{,.gz,.xz,.zst} among the leading ar members (as dpkg-deb
 * does: debian-binary first, members starting with '_' skipped), decompress it in this process (gzip by
 * zlib, xz by xz-decompress's WebAssembly build of xz-embedded, zstd by fzstd: Node's zlib has neither),
 * and read ./control out of the tar. Starting an `xz` process per package cost a bulk import 10 to 40 ms
 * a package on a loaded 2-CPU machine; the system `xz` / `zstd` remain the fallback for what the
 * embedded decoders refuse (e.g. an xz stream with a SHA-256 check).
 */
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { AR_MAGIC, ArError, memberAt, nextAt, type ByteSource } from './ar.js';

/** A control.tar larger than this is not a control archive (real ones are a few KiB). */
const MAX_CONTROL_TAR = 64 << 20;

export class DebReadError extends Error {}

function decompressTool(tool: 'xz' | 'zstd', data: Buffer, member: string): Buffer {
  const args = tool === 'xz' ? ['-d', '-c', '-q'] : ['-d', '-c', '-q', '--no-progress'];
  const env = { ...process.env };
  delete env.XZ_OPT;
  delete env.XZ_DEFAULTS;
  delete env.ZSTD_CLEVEL;
  const r = spawnSync(tool, args, { input: data, maxBuffer: MAX_CONTROL_TAR * 2, env });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DebReadError(`${member} needs the '${tool}' command, which is not installed (Debian package ${tool === 'xz' ? 'xz-utils' : 'zstd'})`);
    }
    throw new DebReadError(`${member}: ${tool} failed: ${r.error.message}`);
  }
  if (r.status !== 0) throw new DebReadError(`${member} does not decompress (${tool}: ${r.stderr.toString().trim() || `exit ${r.status}`})`);
  return r.stdout;
}

/**
 * xz-decompress, loaded when a control.tar.xz is first read: initialising it (and the web streams it
 * needs) costs 10-20 ms, which every other CLI call touching a deb repository (a no-op import, a list)
 * would otherwise pay at start-up.
 */
let xzModule: Promise<typeof import('xz-decompress')> | undefined;

/** xz in this process; undefined when the embedded decoder refuses the stream (the caller falls back). */
async function xzInProcess(data: Buffer): Promise<Buffer | undefined> {
  try {
    const loaded = await (xzModule ??= import('xz-decompress'));
    // A CommonJS (UMD) package: its exports are the namespace's default where the loader cannot see names.
    const { XzReadableStream } = (loaded as { default?: typeof loaded }).default ?? loaded;
    const stream = new XzReadableStream(new Blob([new Uint8Array(data)]).stream());
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
      total += c.length;
      if (total > MAX_CONTROL_TAR) throw new DebReadError(`control.tar.xz decompresses to more than ${MAX_CONTROL_TAR} bytes`);
      chunks.push(c);
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof DebReadError) throw e;
    return undefined;
  }
}

function zstdInProcess(data: Buffer): Buffer | undefined {
  try {
    const out = zstdDecompress(data);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return undefined;
  }
}

/** Read the decompressed control.tar of a .deb. */
export async function readControlTar(src: ByteSource): Promise<{ member: string; tar: Buffer }> {
  if (src.size < 8 || src.read(0, 8).toString('latin1') !== AR_MAGIC) throw new DebReadError('not an ar archive (a .deb starts with !<arch>)');
  let m;
  try {
    m = memberAt(src, 8);
    if (!m || m.name !== 'debian-binary') throw new DebReadError(`first ar member is '${m?.name ?? '(none)'}', not debian-binary`);
    const dv = src.read(m.offset, Math.min(m.size, 16)).toString('latin1');
    if (!/^2\.[0-9]+\n/.test(dv)) throw new DebReadError(`unsupported debian-binary version '${dv.trim()}' (expected 2.x)`);
    let at = nextAt(m);
    for (;;) {
      m = memberAt(src, at);
      if (!m) throw new DebReadError('no control.tar member');
      if (!m.name.startsWith('_')) break;
      at = nextAt(m);
    }
  } catch (e) {
    if (e instanceof ArError) throw new DebReadError(e.message);
    throw e;
  }
  const name = m.name;
  if (!name.startsWith('control.tar')) throw new DebReadError(`no control.tar member (found '${name}' after debian-binary)`);
  if (m.size > MAX_CONTROL_TAR) throw new DebReadError(`${name} is ${m.size} bytes, more than a control archive can be`);
  const data = src.read(m.offset, m.size);
  switch (name) {
    case 'control.tar':
      return { member: name, tar: data };
    case 'control.tar.gz':
      try {
        return { member: name, tar: zlib.gunzipSync(data, { maxOutputLength: MAX_CONTROL_TAR }) };
      } catch (e) {
        throw new DebReadError(`${name} does not decompress (${(e as Error).message})`);
      }
    case 'control.tar.xz':
      return { member: name, tar: (await xzInProcess(data)) ?? decompressTool('xz', data, name) };
    case 'control.tar.zst':
      return { member: name, tar: zstdInProcess(data) ?? decompressTool('zstd', data, name) };
    default:
      throw new DebReadError(`unsupported control archive compression '${name}' (control.tar, .gz, .xz or .zst)`);
  }
}

function octal(b: Buffer, start: number, len: number): number {
  const t = b.toString('latin1', start, start + len).replace(/\0.*$/s, '').trim();
  if (t === '') return 0;
  if (!/^[0-7]+$/.test(t)) throw new DebReadError(`control.tar: bad tar header number '${t}'`);
  return parseInt(t, 8);
}

const cstr = (b: Buffer, start: number, len: number): string => {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return s.toString('utf8', 0, z < 0 ? s.length : z);
};

/** The content of ./control in a tar archive. */
export function controlFromTar(tar: Buffer): Buffer {
  let at = 0;
  let longName: string | undefined;
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512);
    if (h.every((x) => x === 0)) break;
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156]!);
    const prefix = h.toString('latin1', 257, 263) === 'ustar\0' || h.toString('latin1', 257, 263) === 'ustar ' ? cstr(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    longName = undefined;
    const dataAt = at + 512;
    if (dataAt + size > tar.length) throw new DebReadError('control.tar is truncated');
    if (type === 'L') longName = cstr(tar, dataAt, size);
    else if ((type === '0' || type === '\0') && name.replace(/^(\.\/)+/, '') === 'control') {
      return Buffer.from(tar.subarray(dataAt, dataAt + size));
    }
    name = '';
    at = dataAt + Math.ceil(size / 512) * 512;
  }
  throw new DebReadError('control.tar has no ./control file');
}
