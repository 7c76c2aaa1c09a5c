/**
 * Debian version syntax and ordering, exactly as dpkg (lib/dpkg/parsehelp.c parseversion, version.c
 * verrevcmp): `[epoch:]upstream[-revision]`; tests hold compareVersions to `dpkg --compare-versions`.
 */

export interface DebVersion {
  epoch: number;
  upstream: string;
  /** '' when the version has no revision (dpkg compares it as an empty string). */
  revision: string;
}

const UPSTREAM_CHARS = /^[A-Za-z0-9.+~:-]*$/;
const REVISION_CHARS = /^[A-Za-z0-9.+~]*$/;

/** Parse a version; returns the reason it is not Debian syntax as a string. */
export function parseVersion(text: string): DebVersion | string {
  const s = text.trim();
  if (s === '') return 'version string is empty';
  if (/\s/.test(s)) return 'version string has embedded spaces';
  let rest = s;
  let epoch = 0;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const e = s.slice(0, colon);
    if (e === '') return 'epoch in version is empty';
    if (!/^[0-9]+$/.test(e)) return 'epoch in version is not number';
    epoch = Number(e);
    if (epoch > 2147483647) return 'epoch in version is too big';
    rest = s.slice(colon + 1);
    if (rest === '') return 'nothing after colon in version number';
  }
  let upstream = rest;
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === '') return 'revision number is empty';
  }
  if (upstream === '') return 'version number is empty';
  if (!/^[0-9]/.test(upstream)) return 'version number does not start with digit';
  if (!UPSTREAM_CHARS.test(upstream)) return 'invalid character in version number';
  if (!REVISION_CHARS.test(revision)) return 'invalid character in revision number';
  return { epoch, upstream, revision };
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** dpkg's weight of a non-digit character: '~' before the end, the end before letters, letters before the rest. */
function order(c: number | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1; // '~'
  return c + 256;
}

/** dpkg's verrevcmp over two version parts (ASCII by construction). */
export function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : undefined);
      const bc = order(j < b.length ? b.charCodeAt(j) : undefined);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export function compareParsed(a: DebVersion, b: DebVersion): number {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? 1 : -1;
  return Math.sign(verrevcmp(a.upstream, b.upstream)) || Math.sign(verrevcmp(a.revision, b.revision));
}

/** -1, 0 or 1 as dpkg orders two valid versions; throws on invalid syntax. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (typeof pa === 'string') throw new Error(`${a}: ${pa}`);
  if (typeof pb === 'string') throw new Error(`${b}: ${pb}`);
  return compareParsed(pa, pb);
}

/** The version as it appears in a pool file name: without the epoch (Debian policy). */
export function versionForFileName(v: DebVersion): string {
  return v.revision ? `${v.upstream}-${v.revision}` : v.upstream;
}
