/**
 * The `.tram` upload manifest (docs eopkg-format.md "Upload manifests"): TOML naming the target
 * repository and each uploaded file with its sha256.
 *
 *   [manifest]
 *   version = "1.0"
 *   target = "unstable"
 *   [[file]]
 *   path = "nano-8.2-1-1-x86_64.eopkg"
 *   sha256 = "..."
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { ManifestKind, UploadManifest } from './manifest-kinds.js';
import { RcuError } from '../util/errors.js';

export const TRAM_SUFFIX = '.tram';

async function readTram(file: string): Promise<UploadManifest> {
  const text = await fsp.readFile(file, 'utf8');
  // Loaded only for manifests: a plain import should not pay for the TOML parser.
  const { parse, TomlError } = await import('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    // (The library's errors are recognised by class: their `name` is plain 'Error'.)
    if (e instanceof TomlError || e instanceof SyntaxError) throw new RcuError('BAD_INPUT', `${file}: not a valid TOML manifest: ${e.message.split('\n')[0]}`);
    throw e;
  }
  const bad = (msg: string) => new RcuError('BAD_INPUT', `${file}: ${msg}`);
  const m = doc.manifest as Record<string, unknown> | undefined;
  if (!m || typeof m !== 'object') throw bad('missing [manifest] table');
  if (typeof m.version !== 'string' || !/^1(\.\d+)?$/.test(m.version)) throw bad(`unsupported manifest version ${JSON.stringify(m.version)} (expected "1.0")`);
  if (typeof m.target !== 'string' || !m.target) throw bad('[manifest] target is missing');
  const list = doc.file;
  if (!Array.isArray(list) || list.length === 0) throw bad('no [[file]] entries');
  const files: UploadManifest['files'] = [];
  const seen = new Set<string>();
  for (const [i, f] of (list as Array<Record<string, unknown>>).entries()) {
    if (typeof f?.path !== 'string' || !f.path) throw bad(`[[file]] #${i + 1} has no path`);
    const sha = typeof f.sha256 === 'string' ? f.sha256.toLowerCase() : '';
    if (!/^[0-9a-f]{64}$/.test(sha)) throw bad(`[[file]] '${f.path}' has no valid sha256`);
    if (seen.has(f.path)) throw bad(`'${f.path}' is listed twice`);
    seen.add(f.path);
    files.push({ path: f.path, sha256: sha });
  }
  // Identity: target plus every (path, sha256), independent of order and formatting.
  const canon = JSON.stringify([m.target, [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => [f.path, f.sha256])]);
  const key = createHash('sha256').update(canon).digest('hex');
  return { file, dir: path.dirname(file), target: m.target, files, key };
}

export const tramManifest: ManifestKind = { suffix: TRAM_SUFFIX, read: readTram };
