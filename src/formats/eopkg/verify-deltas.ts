/**
 * `verify`: every delta the index lists (`<Delta releaseFrom><PackageURI/><PackageSize/><PackageHash/>`)
 * must be a file of the snapshot with that size and whose bytes hash (sha1) to that hash: a client that
 * downloads a delta checks exactly these. The index is scanned as bytes (it can exceed 100 MiB), and each
 * delta is hashed from its file, not from a cache. Run by `rcurepo verify` over published snapshots
 * (the format's index check compares the index with its entries and never reads package bytes).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../../util/errors.js';

const OPEN = Buffer.from('<Delta ');
const CLOSE = Buffer.from('</Delta>');

export interface ListedDelta {
  uri: string;
  size: number;
  sha1: string;
}

export function listedDeltas(xml: Buffer): ListedDelta[] {
  const out: ListedDelta[] = [];
  for (let at = xml.indexOf(OPEN); at >= 0; at = xml.indexOf(OPEN, at + 1)) {
    const end = xml.indexOf(CLOSE, at);
    if (end < 0) break;
    const text = xml.subarray(at, end).toString('utf8');
    const get = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text)?.[1] ?? '';
    out.push({ uri: decodeXml(get('PackageURI')), size: Number(get('PackageSize')), sha1: get('PackageHash') });
  }
  return out;
}

const decodeXml = (s: string) => s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!);

/**
 * Faults of the deltas a snapshot's index lists. `hashed` memoizes sha1 by (dev, ino): a delta linked into
 * many generations is read once.
 */
export async function verifyListedDeltas(snapshotDir: string, hashed: Map<string, string> = new Map()): Promise<string[]> {
  const faults: string[] = [];
  let xml: Buffer;
  try {
    xml = fs.readFileSync(path.join(snapshotDir, 'eopkg-index.xml'));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return []; // reported by the index check
    throw e;
  }
  for (const d of listedDeltas(xml)) {
    const file = path.join(snapshotDir, d.uri);
    if (d.uri.split('/').includes('..') || path.isAbsolute(d.uri)) {
      faults.push(`listed delta '${d.uri}': not a path inside the snapshot`);
      continue;
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      faults.push(`listed delta ${d.uri}: missing from the snapshot`);
      continue;
    }
    if (st.size !== d.size) faults.push(`listed delta ${d.uri}: the index says ${d.size} bytes, the file has ${st.size}`);
    const key = `${st.dev}:${st.ino}:${st.size}`;
    let got = hashed.get(key);
    if (got === undefined) {
      const h = createHash('sha1');
      for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
      hashed.set(key, (got = h.digest('hex')));
    }
    if (got !== d.sha1) faults.push(`listed delta ${d.uri}: the index says sha1 ${d.sha1}, the file hashes to ${got}`);
  }
  return faults;
}
