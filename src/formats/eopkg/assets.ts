/**
 * Repository assets: distribution.xml, components.xml, groups.xml. They are ordinary entries at the root of
 * the snapshot tree (pool blobs listed in the manifest), so every generation carries the assets its index
 * was made from (verify of an old generation and rollback stay correct). Validated when set (set-assets,
 * via validateAsset) and again when the index is written. A broken or empty localized element is refused
 * with the element named.
 */
import fsp from 'node:fs/promises';
import type { TreeEntry } from '../format.js';
import { RcuError } from '../../util/errors.js';
import { compareBytewise } from './compare.js';
import { withLang } from './fragment.js';
import { MetadataError, decodeXmlBytes } from './metadata.js';
import { XmlError, attr, child, childText, childrenNamed, parseXml, type XElement } from './xml.js';
import { serialize } from './xml-writer.js';

export const ASSET_KINDS = ['distribution', 'components', 'groups'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];
export const ASSET_FILE: Record<AssetKind, string> = { distribution: 'distribution.xml', components: 'components.xml', groups: 'groups.xml' };
export const ASSET_CAP = 16 * 1024 * 1024;

/** The validated, serialised form of the assets, ready to be placed in the index. */
export interface ParsedAssets {
  /** `    <Distribution>...</Distribution>\n` or ''. */
  distribution: string;
  /** Obsolete package names from Distribution/Obsoletes. */
  obsoletes: string[];
  sourceName?: string;
  version?: string;
  /** Every `<Component>` then every `<Group>`, each sorted by Name, serialised at depth 1. */
  components: string;
  groups: string;
  componentNames: string[];
  groupNames: string[];
}

const LOCALIZED: Record<AssetKind, Set<string>> = {
  distribution: new Set(['Description']),
  components: new Set(['LocalName', 'Summary', 'Description']),
  groups: new Set(['LocalName']),
};

function bad(label: string, reason: string): RcuError {
  return new RcuError('BAD_INPUT', `${label}: ${reason}`, { data: { file: label, reason } });
}

function elName(el: XElement): string {
  const lang = attr(el, 'xml:lang');
  return lang === undefined ? `<${el.name}>` : `<${el.name} xml:lang="${lang}">`;
}

/** Check and normalise the localized children of `el` (add xml:lang="en"; refuse empty/broken ones). */
function localize(el: XElement, names: Set<string>, label: string, where: string): XElement {
  const kids = el.children.map((c) => {
    if (!names.has(c.name)) return c;
    if (c.children.length > 0) throw bad(label, `${where}${elName(c)} is broken (contains elements instead of text)`);
    if ((c.text ?? '').trim() === '') throw bad(label, `${where}${elName(c)} is empty`);
    return withLang(c);
  });
  return { ...el, children: kids };
}

function parseRoot(text: string, label: string): XElement {
  if (Buffer.byteLength(text) > ASSET_CAP) throw bad(label, `larger than ${ASSET_CAP} bytes`);
  let root: XElement;
  try {
    root = parseXml(decodeXmlBytes(Buffer.from(text, 'utf8')));
  } catch (e) {
    if (e instanceof XmlError || e instanceof MetadataError) throw bad(label, e.message);
    throw e;
  }
  if (root.name !== 'PISI') throw bad(label, `root element is <${root.name}>, expected <PISI>`);
  return root;
}

function sortedNamed(items: XElement[], label: string, what: string): { names: string[]; xml: string } {
  const named = items.map((el) => {
    const n = childText(el, 'Name');
    if (!n) throw bad(label, `a <${what}> has no <Name>`);
    return { n, el };
  });
  named.sort((a, b) => compareBytewise(a.n, b.n));
  for (let i = 1; i < named.length; i++) if (named[i]!.n === named[i - 1]!.n) throw bad(label, `<${what}> '${named[i]!.n}' appears twice`);
  return { names: named.map((x) => x.n), xml: named.map((x) => serialize(x.el, 1)).join('') };
}

export function validateDistribution(text: string, label = 'distribution.xml'): Pick<ParsedAssets, 'distribution' | 'obsoletes' | 'sourceName' | 'version'> {
  let root = parseRoot(text, label);
  const sourceName = childText(root, 'SourceName');
  const version = childText(root, 'Version');
  if (!sourceName) throw bad(label, '<SourceName> is missing or empty');
  if (!version) throw bad(label, '<Version> is missing or empty');
  root = localize(root, LOCALIZED.distribution, label, '');
  const obs = child(root, 'Obsoletes');
  const obsoletes: string[] = [];
  if (obs) {
    for (const p of obs.children) {
      const n = (p.text ?? '').trim();
      if (p.name !== 'Package' || p.children.length > 0 || n === '') throw bad(label, `Obsoletes: ${elName(p)} is not a package name`);
      obsoletes.push(n);
    }
  }
  const distribution = serialize({ name: 'Distribution', attrs: [], children: root.children, text: undefined }, 1);
  return { distribution, obsoletes, sourceName, version };
}

export function validateComponents(text: string, label = 'components.xml'): { components: string; componentNames: string[] } {
  const root = parseRoot(text, label);
  const list = child(root, 'Components');
  if (!list) throw bad(label, 'no <Components> element');
  const items = childrenNamed(list, 'Component').map((c) => localize(c, LOCALIZED.components, label, `<Component> '${childText(c, 'Name') ?? '?'}': `));
  const { names, xml } = sortedNamed(items, label, 'Component');
  return { components: xml, componentNames: names };
}

export function validateGroups(text: string, label = 'groups.xml'): { groups: string; groupNames: string[] } {
  const root = parseRoot(text, label);
  const list = child(root, 'Groups');
  if (!list) throw bad(label, 'no <Groups> element');
  const items = childrenNamed(list, 'Group').map((c) => localize(c, LOCALIZED.groups, label, `<Group> '${childText(c, 'Name') ?? '?'}': `));
  const { names, xml } = sortedNamed(items, label, 'Group');
  return { groups: xml, groupNames: names };
}

/** Validate one asset's XML text (for a `set-assets` command). Throws BAD_INPUT naming the file and reason. */
export function validateAsset(kind: AssetKind, text: string, label: string = ASSET_FILE[kind]): void {
  if (kind === 'distribution') validateDistribution(text, label);
  else if (kind === 'components') validateComponents(text, label);
  else validateGroups(text, label);
}

/** Tree path of an asset: a root entry of the snapshot (a pool blob listed in the manifest). */
export function assetKindOfPath(treePath: string): AssetKind | undefined {
  for (const k of ASSET_KINDS) if (ASSET_FILE[k] === treePath) return k;
  return undefined;
}

/** True when a file name (basename) is one of the asset names (case-insensitive: never a package). */
export function isAssetName(base: string): boolean {
  const b = base.toLowerCase();
  return ASSET_KINDS.some((k) => ASSET_FILE[k] === b);
}

export type AssetTexts = Partial<Record<AssetKind, string>>;

const EMPTY = { distribution: { distribution: '', obsoletes: [] as string[] }, components: { components: '', componentNames: [] as string[] }, groups: { groups: '', groupNames: [] as string[] } };

/** Parse asset texts (any may be absent) into the form the index needs. */
export function parseAssetTexts(texts: AssetTexts): ParsedAssets {
  const d = texts.distribution !== undefined ? validateDistribution(texts.distribution) : EMPTY.distribution;
  const c = texts.components !== undefined ? validateComponents(texts.components) : EMPTY.components;
  const g = texts.groups !== undefined ? validateGroups(texts.groups) : EMPTY.groups;
  return { ...d, ...c, ...g };
}

type PartOf<K extends AssetKind> = K extends 'distribution' ? Pick<ParsedAssets, 'distribution' | 'obsoletes' | 'sourceName' | 'version'> : K extends 'components' ? Pick<ParsedAssets, 'components' | 'componentNames'> : Pick<ParsedAssets, 'groups' | 'groupNames'>;

/** Parsed assets by (kind, sha256) for the life of the process: blobs are immutable. */
const memo = new Map<string, unknown>();

async function parseAssetBlob<K extends AssetKind>(kind: K, sha256: string, blobPath: string): Promise<PartOf<K>> {
  const key = `${kind}\0${sha256}`;
  const hit = memo.get(key);
  if (hit) return hit as PartOf<K>;
  const buf = await fsp.readFile(blobPath);
  if (buf.length > ASSET_CAP) throw bad(ASSET_FILE[kind], `larger than ${ASSET_CAP} bytes`);
  let text: string;
  try {
    text = decodeXmlBytes(buf);
  } catch (e) {
    if (e instanceof MetadataError) throw bad(ASSET_FILE[kind], e.message);
    throw e;
  }
  const parsed = (kind === 'distribution' ? validateDistribution(text) : kind === 'components' ? validateComponents(text) : validateGroups(text)) as PartOf<K>;
  if (memo.size > 64) memo.clear();
  memo.set(key, parsed);
  return parsed;
}

/** The asset entries of a snapshot (root `distribution.xml`, `components.xml`, `groups.xml`). */
export function assetEntries(entries: readonly TreeEntry[]): Partial<Record<AssetKind, TreeEntry>> {
  const out: Partial<Record<AssetKind, TreeEntry>> = {};
  for (const e of entries) {
    if (e.path.includes('/')) continue;
    const k = assetKindOfPath(e.path);
    if (k) out[k] = e;
  }
  return out;
}

/** Read and parse the snapshot's assets from their pool blobs (absent assets are empty). */
export async function loadAssets(entries: readonly TreeEntry[], blobPath: (sha256: string) => string): Promise<ParsedAssets> {
  const a = assetEntries(entries);
  const [d, c, g] = await Promise.all([
    a.distribution ? parseAssetBlob('distribution', a.distribution.sha256, blobPath(a.distribution.sha256)) : EMPTY.distribution,
    a.components ? parseAssetBlob('components', a.components.sha256, blobPath(a.components.sha256)) : EMPTY.components,
    a.groups ? parseAssetBlob('groups', a.groups.sha256, blobPath(a.groups.sha256)) : EMPTY.groups,
  ]);
  return { ...d, ...c, ...g };
}
