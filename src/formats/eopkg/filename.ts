/** eopkg file names, parsed from the right (NAME may contain '-'). */

export interface PackageFileName {
  kind: 'package';
  name: string;
  version: string;
  release: string;
  distrel: string;
  arch: string;
}

export interface DeltaFileName {
  kind: 'delta';
  name: string;
  fromRelease: string;
  toRelease: string;
  distrel: string;
  arch: string;
}

export const PACKAGE_SUFFIX = '.eopkg';
export const DELTA_SUFFIX = '.delta.eopkg';

/**
 * Split `s` on its last four dashes: [rest, p1, p2, p3, p4]; undefined when there are not enough or a part
 * is empty. Runs for every package of a repository on every publish (index planning): no regex, no arrays
 * grown from the front.
 */
function splitRight4(s: string): [string, string, string, string, string] | undefined {
  const d4 = s.lastIndexOf('-');
  const d3 = d4 > 0 ? s.lastIndexOf('-', d4 - 1) : -1;
  const d2 = d3 > 0 ? s.lastIndexOf('-', d3 - 1) : -1;
  const d1 = d2 > 0 ? s.lastIndexOf('-', d2 - 1) : -1;
  // Every part non-empty: NAME before d1, and at least one character between consecutive dashes and after d4.
  if (d1 <= 0 || d2 === d1 + 1 || d3 === d2 + 1 || d4 === d3 + 1 || d4 === s.length - 1) return undefined;
  return [s.slice(0, d1), s.slice(d1 + 1, d2), s.slice(d2 + 1, d3), s.slice(d3 + 1, d4), s.slice(d4 + 1)];
}

/** NAME-VERSION-RELEASE-DISTREL-ARCH.eopkg or NAME-FROM-TO-DISTREL-ARCH.delta.eopkg; undefined otherwise. */
export function parseFileName(base: string): PackageFileName | DeltaFileName | undefined {
  if (base.endsWith(DELTA_SUFFIX)) {
    const p = splitRight4(base.slice(0, -DELTA_SUFFIX.length));
    if (!p) return undefined;
    const [name, fromRelease, toRelease, distrel, arch] = p;
    return { kind: 'delta', name, fromRelease, toRelease, distrel, arch };
  }
  if (base.endsWith(PACKAGE_SUFFIX)) {
    const p = splitRight4(base.slice(0, -PACKAGE_SUFFIX.length));
    if (!p) return undefined;
    const [name, version, release, distrel, arch] = p;
    return { kind: 'package', name, version, release, distrel, arch };
  }
  return undefined;
}

