/**
 * The files of an upload manifest in the import pipeline (import-pipeline.ts): each named file checked
 * as an upload before any is copied, each staged file's bytes against what the manifest states, the
 * distribution a manifest names against the repository's; and the one refusal every check ends in.
 */
import path from 'node:path';
import type { RepoConfig } from '../engine/repo.js';
import type { PreparedFile, SourceFile } from '../engine/importer.js';
import { hashFile } from '../engine/snapshot-state.js';
import { debSettings, pickDist } from '../formats/deb/settings.js';
import { RcuError } from '../util/errors.js';
import type { ManifestFile, UploadManifest } from './manifest-kinds.js';
import { checkUpload } from './uploads.js';

/**
 * The distribution a manifest's files go to: the first of the distributions it names (a .changes'
 * `Distribution:`) that the repository has; refused naming them when it has none of them.
 */
export function manifestDist(m: UploadManifest, repoName: string, config: RepoConfig, named: string | undefined): string | undefined {
  if (m.dists === undefined || m.dists.length === 0) return named;
  const where = path.basename(m.file);
  if (config.format !== 'deb') throw new RcuError('BAD_INPUT', `${where}: names distribution ${m.dists.join(' ')}, but '${repoName}' is a ${config.format} repository; nothing was imported`);
  const known = debSettings(config.settings).dists;
  const found = m.dists.map((n) => known.find((d) => d.codename === n || d.suite === n)).find((d) => d !== undefined);
  if (!found) throw new RcuError('BAD_INPUT', `${where}: Distribution '${m.dists.join(' ')}' is not one of repository '${repoName}''s (${known.map((d) => d.codename).join(', ')}); nothing was imported`);
  if (named !== undefined && pickDist({ flat: false, dists: known }, named).codename !== found.codename) {
    throw new RcuError('USAGE', `${where}: Distribution '${found.codename}' differs from --dist ${named}`);
  }
  return found.codename;
}

/** The files a manifest names, each checked before any is copied: every problem is reported at once. */
export async function namedFiles(m: UploadManifest): Promise<{ inputs: SourceFile[]; byAbs: Map<string, ManifestFile> }> {
  const name = path.basename(m.file);
  const refused: string[] = [];
  const out: SourceFile[] = [];
  const byAbs = new Map<string, ManifestFile>();
  for (const f of m.files) {
    try {
      const { abs, rel } = await checkUpload(m.dir, f.path, name);
      if (f.publish === false) {
        // Checked here (never staged): it is part of the delivery, not of the repository.
        const h = await hashFile(abs);
        if (f.size !== undefined && h.size !== f.size) refused.push(`${name}: '${f.path}' has ${h.size} bytes, the manifest says ${f.size}`);
        else if (h.sha256 !== f.sha256) refused.push(`${name}: '${f.path}' has sha256 ${h.sha256}, the manifest says ${f.sha256}`);
        continue;
      }
      out.push({ abs, rel });
      byAbs.set(abs, f);
    } catch (e) {
      if (!(e instanceof RcuError)) throw e;
      refused.push(e.message);
    }
  }
  if (refused.length) throw importRefusal(name, refused);
  return { inputs: out, byAbs };
}

export function manifestMismatches(m: UploadManifest, byAbs: ReadonlyMap<string, ManifestFile>, prepared: readonly PreparedFile[]): string[] {
  const name = path.basename(m.file);
  const out: string[] = [];
  for (const p of prepared) {
    const want = byAbs.get(p.source.abs);
    if (!want) continue; // a file a .dsc lists, not the manifest (checked against the .dsc)
    if (p.staged.sha256 !== want.sha256) out.push(`${name}: '${want.path}' has sha256 ${p.staged.sha256}, the manifest says ${want.sha256}`);
    else if (want.size !== undefined && p.staged.size !== want.size) out.push(`${name}: '${want.path}' has ${p.staged.size} bytes, the manifest says ${want.size}`);
  }
  return out;
}

/** The one refusal of an import: every reason, and the promise that nothing was imported. */
export function importRefusal(subject: string | undefined, reasons: string[]): RcuError {
  if (reasons.length === 1) return new RcuError('BAD_INPUT', `${reasons[0]}; nothing was imported`);
  const what = subject ? `${subject}: ${reasons.length} problems` : `${reasons.length} files refused`;
  return new RcuError('BAD_INPUT', `${what}; nothing was imported`, { details: reasons });
}
