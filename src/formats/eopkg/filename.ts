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

/** Split `s` on its last `n` dashes: [rest, p1, ..., pn]; undefined when there are not enough or a part is empty. */
function splitRight(s: string, n: number): string[] | undefined {
  const parts: string[] = [];
  let end = s.length;
  for (let i = 0; i < n; i++) {
    const d = s.lastIndexOf('-', end - 1);
    if (d <= 0) return undefined;
    parts.unshift(s.slice(d + 1, end));
    end = d;
  }
  parts.unshift(s.slice(0, end));
  return parts.every((p) => p.length > 0) ? parts : undefined;
}

/** NAME-VERSION-RELEASE-DISTREL-ARCH.eopkg or NAME-FROM-TO-DISTREL-ARCH.delta.eopkg; undefined otherwise. */
export function parseFileName(base: string): PackageFileName | DeltaFileName | undefined {
  if (base.endsWith(DELTA_SUFFIX)) {
    const p = splitRight(base.slice(0, -DELTA_SUFFIX.length), 4);
    if (!p) return undefined;
    const [name, fromRelease, toRelease, distrel, arch] = p as [string, string, string, string, string];
    return { kind: 'delta', name, fromRelease, toRelease, distrel, arch };
  }
  if (base.endsWith(PACKAGE_SUFFIX)) {
    const p = splitRight(base.slice(0, -PACKAGE_SUFFIX.length), 4);
    if (!p) return undefined;
    const [name, version, release, distrel, arch] = p as [string, string, string, string, string];
    return { kind: 'package', name, version, release, distrel, arch };
  }
  return undefined;
}

