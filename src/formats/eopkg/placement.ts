/** Where a package lives: `<prefix>/<source>/<file>` (see docs: eopkg-format.md). */

/** The folder of a source: lowercased; prefix = first 4 chars for lib* (longer than 3), else the first char. */
export function sourceFolder(source: string): string {
  const s = source.toLowerCase();
  const prefix = s.startsWith('lib') && s.length > 3 ? s.slice(0, 4) : s.slice(0, 1);
  return `${prefix}/${s}`;
}

export function treePathFor(source: string, basename: string): string {
  return `${sourceFolder(source)}/${basename}`;
}
