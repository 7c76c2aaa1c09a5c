/**
 * The control paragraph of a binary package (deb822): `Field: value` lines, continuation lines starting
 * with a space or tab. Validated for what an index needs (Package, Version, Architecture, Source), kept
 * verbatim for the Packages stanza (minus Status, as dpkg-scanpackages does).
 */
import { parseVersion, type DebVersion } from './version.js';

export interface ControlField {
  name: string;
  /** The value as written after "Name:" (first line trimmed) with its continuation lines. */
  value: string;
  /** The field's lines exactly as in the control file, ending with a newline. */
  raw: string;
}

export interface BinaryControl {
  fields: ControlField[];
  package: string;
  version: string;
  parsedVersion: DebVersion;
  architecture: string;
  /** Source package name (the Source field's first word, else Package). */
  source: string;
  /** Source version when the Source field names one, e.g. `Source: foo (1.2-3)`. */
  sourceVersion?: string;
}

/** Fields the repository computes for every stanza; a control file must not carry them. */
export const COMPUTED_FIELDS = ['Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512'];

export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
export const ARCH_NAME = /^[a-z0-9][a-z0-9-]*$/;
const FIELD_NAME = /^[!-9;-~]+$/; // printable ASCII without ':' (deb822)

/** Parse one paragraph. Returns the reason the text is malformed as a string. */
export function parseParagraph(text: string): ControlField[] | string {
  if (text.includes('\r')) return 'control file has carriage returns (CRLF line ends)';
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  while (lines.length && lines[0]!.trim() === '') lines.shift();
  if (lines.length === 0) return 'control file is empty';
  const fields: ControlField[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields[fields.length - 1];
      if (!last) return `line ${i + 1}: continuation line before any field`;
      if (line.trim() === '') return `line ${i + 1}: empty continuation line (use ' .')`;
      last.value += '\n' + line;
      last.raw += line.trimEnd() + '\n';
      continue;
    }
    if (line.trim() === '') return `line ${i + 1}: blank line inside the control paragraph`;
    const colon = line.indexOf(':');
    if (colon <= 0) return `line ${i + 1}: not a 'Field: value' line`;
    const name = line.slice(0, colon);
    if (!FIELD_NAME.test(name) || name.startsWith('-')) return `line ${i + 1}: bad field name '${name}'`;
    const key = name.toLowerCase();
    if (seen.has(key)) return `field ${name} appears twice`;
    seen.add(key);
    const value = line.slice(colon + 1).trim();
    // Normalised as dpkg writes it: one space after the colon, none at the end.
    fields.push({ name, value, raw: `${name}:${value ? ' ' + value : ''}\n` });
  }
  return fields;
}

export function field(fields: readonly ControlField[], name: string): string | undefined {
  const k = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === k)?.value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8 (control files must be). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Validate a binary package's control file; returns the reason for a refusal as a string. */
export function parseBinaryControl(bytes: Buffer): BinaryControl | string {
  const text = decodeUtf8(bytes);
  if (text === undefined) return 'control file is not UTF-8';
  const fields = parseParagraph(text);
  if (typeof fields === 'string') return fields;
  for (const c of COMPUTED_FIELDS) if (field(fields, c) !== undefined) return `control file carries ${c}, a field the repository computes`;
  const pkg = field(fields, 'Package');
  const version = field(fields, 'Version');
  const arch = field(fields, 'Architecture');
  if (pkg === undefined || pkg === '') return 'missing Package field';
  if (version === undefined || version === '') return 'missing Version field';
  if (arch === undefined || arch === '') return 'missing Architecture field';
  if (!PACKAGE_NAME.test(pkg)) return `Package '${pkg}' is not a valid package name (lowercase letters, digits, + - ., at least 2 characters)`;
  const pv = parseVersion(version);
  if (typeof pv === 'string') return `Version '${version}' is not Debian version syntax: ${pv}`;
  if (!ARCH_NAME.test(arch)) return `Architecture '${arch}' is not a single architecture name`;
  let source = pkg;
  let sourceVersion: string | undefined;
  const src = field(fields, 'Source');
  if (src !== undefined) {
    const m = /^([^\s(]+)\s*(?:\(([^)]*)\))?$/.exec(src);
    if (!m) return `Source '${src}' is malformed (expected 'name' or 'name (version)')`;
    source = m[1]!;
    if (!PACKAGE_NAME.test(source)) return `Source '${source}' is not a valid source package name`;
    if (m[2] !== undefined) {
      const sv = parseVersion(m[2]);
      if (typeof sv === 'string') return `Source version '${m[2]}' is not Debian version syntax: ${sv}`;
      sourceVersion = m[2].trim();
    }
  }
  return { fields, package: pkg, version, parsedVersion: pv, architecture: arch, source, sourceVersion };
}

/** The stanza's control part: the paragraph verbatim without Status (and comment lines). */
export function stanzaHead(fields: readonly ControlField[]): string {
  return fields
    .filter((f) => f.name.toLowerCase() !== 'status')
    .map((f) => f.raw)
    .join('');
}
