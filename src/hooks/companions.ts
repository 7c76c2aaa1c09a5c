/**
 * Inputs that list other files as part of themselves (a Debian .dsc and its tarballs, Format.companions):
 * the listed files are taken from the listing file's folder and imported with it, placed where the format
 * says, and each must have the size and sha256 the listing states. A listed file absent from the folder
 * is accepted only when the repository already publishes those bytes at its place. A file named both on its own and as a
 * companion is imported once, as the companion. Anything missing or different refuses the whole import,
 * naming the listing file, the listed file and the reason.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { PreparedFile, SourceFile } from '../engine/importer.js';
import type { Companion, CompanionList, Format, PlaceOptions } from '../formats/format.js';
import { errnoCode, isRcuError, RcuError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';
import { checkUpload, refuseReason } from './uploads.js';

interface Expectation {
  /** The listing file (as given) and the name it lists; `name` undefined: the listing file itself. */
  listing: string;
  name?: string;
  sha256: string;
  size?: number;
  otherHashes?: Companion['otherHashes'];
}

export interface WithCompanions {
  inputs: SourceFile[];
  /** Absolute path -> what its bytes must be. */
  expected: Map<string, Expectation[]>;
}

export interface CompanionRules {
  /** Companions are checked as uploads are (no links of any kind), else as named files are. */
  strict: boolean;
  followSymlinks?: boolean;
  /** Whether the current snapshot already has these bytes at this tree path (a missing companion is then fine). */
  published?: (treePath: string, sha256: string) => Promise<boolean>;
}

/**
 * Add every input's companions. `strict` (an upload folder): companions are checked as uploads are
 * (no links of any kind); otherwise as named files are (symbolic links only with followSymlinks).
 */
export async function withCompanions(format: Format, inputs: readonly SourceFile[], opts: PlaceOptions, how: CompanionRules): Promise<WithCompanions> {
  const expected = new Map<string, Expectation[]>();
  if (!format.companions) return { inputs: [...inputs], expected };
  const refused: string[] = [];
  const companions = new Map<string, SourceFile>();
  const expect = (abs: string, e: Expectation) => {
    const l = expected.get(abs);
    if (l) l.push(e);
    else expected.set(abs, [e]);
  };
  for (const input of inputs) {
    let list: CompanionList | undefined;
    try {
      list = await format.companions(input, opts);
    } catch (e) {
      if (isRcuError(e, 'BAD_INPUT') || isRcuError(e, 'USAGE')) {
        refused.push(e.message);
        continue;
      }
      throw e;
    }
    if (!list) continue;
    expect(input.abs, { listing: input.abs, sha256: list.sha256 });
    for (const c of list.files) {
      // Not uploaded again (a new revision's upload without its orig tarball): fine when the repository
      // already publishes those bytes at that path.
      if (how.published && !(await pathExists(path.join(path.dirname(input.abs), c.name))) && (await how.published(c.treePath, c.sha256))) continue;
      let abs: string;
      try {
        abs = await locate(path.dirname(input.abs), c.name, input.abs, how);
      } catch (e) {
        if (!isRcuError(e, 'BAD_INPUT')) throw e;
        refused.push(e.message);
        continue;
      }
      const other = companions.get(abs);
      if (other && other.placeAt !== c.treePath) {
        refused.push(`${input.abs}: lists ${c.name}, which another input places at ${other.placeAt} (not ${c.treePath}): import them separately`);
        continue;
      }
      companions.set(abs, { abs, rel: c.name, placeAt: c.treePath });
      expect(abs, { listing: input.abs, name: c.name, sha256: c.sha256, size: c.size, otherHashes: c.otherHashes });
    }
  }
  if (refused.length) {
    throw new RcuError('BAD_INPUT', refused.length === 1 ? `${refused[0]}; nothing was imported` : `${refused.length} problems with listed files; nothing was imported`, { details: refused.length === 1 ? [] : refused });
  }
  const out = inputs.map((i) => companions.get(i.abs) ?? i);
  const named = new Set(inputs.map((i) => i.abs));
  for (const c of companions.values()) if (!named.has(c.abs)) out.push(c);
  return { inputs: out, expected };
}


/** The listed file `name` in `dir`, checked like the inputs it comes with. */
async function locate(dir: string, name: string, listing: string, how: CompanionRules): Promise<string> {
  if (how.strict) return (await checkUpload(dir, name, listing)).abs;
  const abs = path.join(dir, name);
  let st;
  try {
    st = await fsp.lstat(abs);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw new RcuError('BAD_INPUT', `${listing}: listed file '${name}' is missing (looked for ${abs})`);
    throw e;
  }
  if (st.isSymbolicLink()) {
    if (!how.followSymlinks) throw new RcuError('BAD_INPUT', `${listing}: listed file '${name}' is a symbolic link (use --follow-symlinks to import its target)`);
    const target = await fsp.realpath(abs).catch(() => undefined);
    const tst = target ? await fsp.stat(target).catch(() => undefined) : undefined;
    if (!target || !tst?.isFile()) throw new RcuError('BAD_INPUT', `${listing}: listed file '${name}' is a symbolic link to nothing importable`);
    return target;
  }
  if (!st.isFile()) throw new RcuError('BAD_INPUT', `${listing}: listed file '${name}' ${refuseReason(st)}`);
  return abs;
}

/**
 * Every prepared file whose bytes differ from what its listing states: one message each. `recorded` gives
 * the format's cached metadata of a prepared file (where md5 and sha512 digests are found).
 */
export function companionMismatches(expected: ReadonlyMap<string, Expectation[]>, prepared: readonly PreparedFile[], recorded: (p: PreparedFile) => unknown): string[] {
  const out: string[] = [];
  for (const p of prepared) {
    for (const e of expected.get(p.source.abs) ?? []) {
      if (e.name === undefined) {
        if (p.staged.sha256 !== e.sha256) out.push(`${e.listing}: changed while it was being imported (sha256 ${e.sha256}, then ${p.staged.sha256})`);
      } else if (e.size !== undefined && p.staged.size !== e.size) {
        out.push(`${e.listing}: listed file '${e.name}' has ${p.staged.size} bytes, the listing says ${e.size}`);
      } else if (p.staged.sha256 !== e.sha256) {
        out.push(`${e.listing}: listed file '${e.name}' has sha256 ${p.staged.sha256}, the listing says ${e.sha256}`);
      } else {
        // Same bytes by sha256, so another digest that disagrees is a wrong line in the listing itself.
        for (const [alg, want] of Object.entries(e.otherHashes ?? {})) {
          const have = alg === 'sha1' ? p.staged.sha1 : recordedHash(recorded(p), alg);
          if (want !== undefined && have !== undefined && have !== want.toLowerCase()) out.push(`${e.listing}: listed file '${e.name}' has ${alg} ${have}, the listing says ${want}`);
        }
      }
    }
  }
  return out;
}

/** A digest the format's metadata of a file records (e.g. a .dsc-listed file's md5), if any. */
function recordedHash(meta: unknown, alg: string): string | undefined {
  const v = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)[alg] : undefined;
  return typeof v === 'string' ? v : undefined;
}
