/** Parse and validate an eopkg `metadata.xml`. */
import { XmlError, attr, child, childText, childrenNamed, parseXml, type XElement } from './xml.js';

/** Largest metadata.xml accepted (uncompressed). */
export const METADATA_CAP = 4 * 1024 * 1024;

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
export const VERSION_RE = /^[A-Za-z0-9._+~]{1,64}$/;
export const RELEASE_RE = /^[1-9][0-9]{0,8}$/;
export const DISTREL_RE = /^[A-Za-z0-9._+]{1,32}$/;
export const ARCH_RE = /^[A-Za-z0-9_]{1,32}$/;

export class MetadataError extends Error {}

/** What identifies a build: checked against its file name on import. */
export interface PackageIdentity {
  name: string;
  version: string;
  release: number;
  distrel: string;
  arch: string;
  /** Source name as written (Package/Source/Name, else Source/Name); the tree folder is it lowercased. */
  source: string;
}

export interface ParsedMetadata extends PackageIdentity {
  /** The <Package> element. */
  pkg: XElement;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode XML bytes as UTF-8 (BOM stripped), refusing invalid UTF-8 and other declared encodings. */
export function decodeXmlBytes(buf: Uint8Array): string {
  let s: string;
  try {
    s = utf8.decode(buf);
  } catch {
    throw new MetadataError('not valid UTF-8');
  }
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  const decl = /^<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/.exec(s);
  if (decl && !/^utf-?8$/i.test(decl[1]!)) throw new MetadataError(`unsupported encoding '${decl[1]}'`);
  return s;
}

function need(el: XElement, name: string, where: string): string {
  const t = childText(el, name);
  if (t === undefined || t === '') throw new MetadataError(`${where}/${name} is missing or empty`);
  return t;
}

function check(re: RegExp, value: string, what: string): string {
  if (!re.test(value)) throw new MetadataError(`${what} '${value}' is not valid`);
  return value;
}

export function parseMetadata(buf: Uint8Array): ParsedMetadata {
  if (buf.length > METADATA_CAP) throw new MetadataError(`metadata.xml is larger than ${METADATA_CAP} bytes`);
  let root: XElement;
  try {
    root = parseXml(decodeXmlBytes(buf));
  } catch (e) {
    if (e instanceof XmlError) throw new MetadataError(`metadata.xml: ${e.message}`);
    throw e;
  }
  if (root.name !== 'PISI') throw new MetadataError(`metadata.xml: root element is <${root.name}>, expected <PISI>`);
  const pkgs = childrenNamed(root, 'Package');
  if (pkgs.length !== 1) throw new MetadataError(`metadata.xml: expected exactly one <Package>, found ${pkgs.length}`);
  const pkg = pkgs[0]!;
  const name = check(NAME_RE, need(pkg, 'Name', 'Package'), 'package name');
  const history = child(pkg, 'History');
  const updates = history ? childrenNamed(history, 'Update') : [];
  const first = updates[0];
  if (!first) throw new MetadataError('metadata.xml: Package/History has no Update (version and release unknown)');
  const rel = attr(first, 'release');
  if (rel === undefined) throw new MetadataError('metadata.xml: first History/Update has no release attribute');
  const release = Number(check(RELEASE_RE, rel.trim(), 'release'));
  const version = check(VERSION_RE, need(first, 'Version', 'History/Update'), 'version');
  const distrel = check(DISTREL_RE, need(pkg, 'DistributionRelease', 'Package'), 'distribution release');
  const arch = check(ARCH_RE, need(pkg, 'Architecture', 'Package'), 'architecture');
  need(pkg, 'Distribution', 'Package');
  const inst = need(pkg, 'InstalledSize', 'Package');
  if (!/^[0-9]{1,18}$/.test(inst)) throw new MetadataError(`metadata.xml: InstalledSize '${inst}' is not a number`);
  const pkgSource = child(pkg, 'Source');
  const topSource = child(root, 'Source');
  const source = (pkgSource && childText(pkgSource, 'Name')) || (topSource && childText(topSource, 'Name')) || '';
  if (source === '') throw new MetadataError('metadata.xml: no source name (Package/Source/Name or Source/Name)');
  check(NAME_RE, source, 'source name');
  return { name, version, release, distrel, arch, source, pkg };
}
