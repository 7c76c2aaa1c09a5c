/**
 * The Release file of a distribution (or of a flat repository): fields, then MD5Sum / SHA1 / SHA256
 * lists of every index relative to the Release file's folder. The uncompressed Packages is listed even
 * though it is not shipped: apt looks an index up by its uncompressed name.
 */
import type { DistConfig } from './settings.js';

export interface IndexFileDigest {
  /** Path relative to the Release file's folder. */
  path: string;
  md5: string;
  sha1: string;
  sha256: string;
  size: number;
}

/** RFC 1123 date in UTC as Debian writes it: `Mon, 30 Nov 2026 05:39:41 UTC`. */
export function releaseDate(d: Date): string {
  return d.toUTCString().replace(/GMT$/, 'UTC');
}

export function renderRelease(dist: DistConfig, date: Date, files: readonly IndexFileDigest[], opts: { flat: boolean }): string {
  const lines: string[] = [];
  if (dist.origin !== undefined) lines.push(`Origin: ${dist.origin}`);
  if (dist.label !== undefined) lines.push(`Label: ${dist.label}`);
  lines.push(`Suite: ${dist.suite}`, `Codename: ${dist.codename}`, `Date: ${releaseDate(date)}`);
  lines.push(`Architectures: ${dist.architectures.join(' ')}`);
  if (!opts.flat) lines.push(`Components: ${dist.components.join(' ')}`);
  if (dist.description !== undefined) lines.push(`Description: ${dist.description}`);
  lines.push('Acquire-By-Hash: yes');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const width = Math.max(1, ...sorted.map((f) => String(f.size).length));
  for (const [title, key] of [['MD5Sum', 'md5'], ['SHA1', 'sha1'], ['SHA256', 'sha256']] as const) {
    lines.push(`${title}:`);
    for (const f of sorted) lines.push(` ${f[key]} ${String(f.size).padStart(width)} ${f.path}`);
  }
  return lines.join('\n') + '\n';
}

export interface ParsedRelease {
  fields: Map<string, string>;
  /** SHA256 list: path -> { sha256, size }. */
  sha256: Map<string, { sha256: string; size: number }>;
  md5: Map<string, { md5: string; size: number }>;
  sha1: Map<string, { sha1: string; size: number }>;
}

/** Parse a Release file (the fields this project writes and reads back). */
export function parseRelease(text: string): ParsedRelease {
  const fields = new Map<string, string>();
  const lists: Record<string, Map<string, { h: string; size: number }>> = { md5sum: new Map(), sha1: new Map(), sha256: new Map() };
  let current: Map<string, { h: string; size: number }> | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(' ')) {
      const m = /^\s+([0-9a-f]+)\s+([0-9]+)\s+(\S+)\s*$/.exec(line);
      if (current && m) current.set(m[3]!, { h: m[1]!, size: Number(m[2]) });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    current = lists[name.toLowerCase()];
    if (!current) fields.set(name, value);
  }
  const conv = <K extends string>(m: Map<string, { h: string; size: number }>, k: K) => new Map([...m].map(([p, v]) => [p, { [k]: v.h, size: v.size } as Record<K, string> & { size: number }]));
  return { fields, sha256: conv(lists.sha256!, 'sha256'), md5: conv(lists.md5sum!, 'md5'), sha1: conv(lists.sha1!, 'sha1') };
}
