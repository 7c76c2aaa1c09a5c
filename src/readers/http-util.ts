/** HTTP pieces with no state: request paths, byte ranges, conditional requests, content types. */
import { parseGeneration } from '../engine/layout.js';

/** The reserved segment of repository pages: `/REPO/@rcurepo/`. */
export const PAGE_SEGMENT = '@rcurepo';

export type ParsedPath =
  /**
   * dirSlash: the target ended in '/' (a directory asked for as one: relative links resolve inside it).
   * page: `/REPO/@rcurepo/...`, the repository page. A first segment starting with '@' always selects a
   * generation, so no snapshot path is ever reachable there and the page cannot hide repository content.
   */
  | { ok: true; repo: string; gen: number | undefined; rel: string[]; dirSlash: boolean; page?: boolean }
  | { ok: false; status: 400 | 404; reason: string };

/**
 * `/REPO/PATH` or `/REPO/@GEN/PATH`. Each segment is percent-decoded exactly once; after decoding no
 * segment may be empty, `.`, `..`, or hold `/`, `\` or NUL, so no encoding (%2e%2e, %2f, %00,
 * double-encoding, which stays literal) reaches outside the snapshot.
 */
export function parseRequestPath(rawUrl: string): ParsedPath {
  const q = rawUrl.indexOf('?');
  let raw = q < 0 ? rawUrl : rawUrl.slice(0, q);
  // Absolute form (RFC 9112 3.2.2, what a client talking to a proxy sends): the path after the authority.
  const abs = /^https?:\/\/[^/]*/i.exec(raw);
  if (abs) raw = raw.slice(abs[0].length) || '/';
  if (!raw.startsWith('/')) return { ok: false, status: 400, reason: 'request target must be an absolute path' };
  if (raw === '/') return { ok: true, repo: '', gen: undefined, rel: [], dirSlash: true };
  const parts = raw.slice(1).split('/');
  const trailingSlash = parts.length > 1 && parts[parts.length - 1] === '';
  if (trailingSlash) parts.pop();
  const decoded: string[] = [];
  for (const p of parts) {
    // A literal `.` segment is the folder itself (RFC 3986 dot-segment removal): apt requests
    // `/REPO/./Release` for a flat repository (`deb URI ./`). Encoded dots stay refused below.
    if (p === '.' && decoded.length > 0) continue;
    let d: string;
    try {
      d = decodeURIComponent(p);
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding' };
    }
    if (d === '' || d === '.' || d === '..' || d.includes('/') || d.includes('\\') || d.includes('\0')) {
      return { ok: false, status: 400, reason: 'invalid path segment' };
    }
    decoded.push(d);
  }
  if (decoded.length === 0) return { ok: true, repo: '', gen: undefined, rel: [], dirSlash: true };
  const [repo, ...rest] = decoded;
  let gen: number | undefined;
  if (rest[0] === PAGE_SEGMENT) return { ok: true, repo: repo!, gen: undefined, rel: rest.slice(1), dirSlash: trailingSlash || rest.length > 1, page: true };
  if (rest[0]?.startsWith('@')) {
    gen = parseGeneration(rest[0].slice(1));
    if (gen === undefined) return { ok: false, status: 404, reason: `'${rest[0]}' is not a generation` };
    rest.shift();
  }
  return { ok: true, repo: repo!, gen, rel: rest, dirSlash: trailingSlash };
}

export type RangeResult = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range (first-last, first-, -suffix). Multiple ranges or a malformed header are
 * ignored (RFC 9110 allows answering with the whole representation).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'none' };
  const [, a, b] = m;
  if (a === '' && b === '') return { kind: 'none' };
  if (a === '') {
    const n = Number(b);
    if (n === 0) return { kind: 'unsatisfiable' };
    return size === 0 ? { kind: 'unsatisfiable' } : { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return { kind: 'none' }; // syntactically invalid: ignore
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'range', start, end };
}

function etagList(h: string): string[] {
  return h.split(',').map((s) => s.trim()).filter(Boolean);
}

/** If-None-Match uses the weak comparison: W/"x" matches "x". */
export function noneMatchHit(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const strip = (t: string) => (t.startsWith('W/') ? t.slice(2) : t);
  return etagList(header).some((t) => t === '*' || strip(t) === strip(etag));
}

/** If-Range: a strong ETag matching exactly, or an HTTP date equal to Last-Modified. */
export function ifRangeHolds(header: string | undefined, etag: string, mtimeMs: number): boolean {
  if (!header) return true;
  const h = header.trim();
  if (h.startsWith('"') || h.startsWith('W/')) return h === etag;
  const d = Date.parse(h);
  return !Number.isNaN(d) && Math.floor(mtimeMs / 1000) * 1000 === d;
}

export function notModifiedSince(header: string | undefined, mtimeMs: number): boolean {
  if (!header) return false;
  const d = Date.parse(header);
  return !Number.isNaN(d) && Math.floor(mtimeMs / 1000) * 1000 <= d;
}

const TYPES: Record<string, string> = {
  xml: 'application/xml',
  xz: 'application/x-xz',
  gz: 'application/gzip',
  bz2: 'application/x-bzip2',
  zst: 'application/zstd',
  zip: 'application/zip',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  sha1sum: 'text/plain; charset=utf-8',
  sha256sum: 'text/plain; charset=utf-8',
  md5sum: 'text/plain; charset=utf-8',
  asc: 'application/pgp-signature',
  sig: 'application/pgp-signature',
  gpg: 'application/pgp-signature',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css',
  js: 'text/javascript',
  png: 'image/png',
  jpg: 'image/jpeg',
  svg: 'image/svg+xml',
  iso: 'application/x-iso9660-image',
  tar: 'application/x-tar',
  deb: 'application/vnd.debian.binary-package',
  rpm: 'application/x-rpm',
  eopkg: 'application/octet-stream',
};

export function contentType(name: string): string {
  if (/^(SHA256SUMS|SHA1SUMS|MD5SUMS|SHA512SUMS)$/.test(name)) return 'text/plain; charset=utf-8';
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
