/**
 * Repository assets: distribution.xml, components.xml, groups.xml. Stored as raw XML text in the repository
 * settings under `eopkgAssets` ({distribution?, components?, groups?}); validated when set (set-assets) and
 * again when the index is written. A broken or empty localized element is refused with the element named.
 */
import { createHash } from 'node:crypto';
import { RcuError } from '../../util/errors.js';
import { compareBytewise } from './compare.js';
import { withLang } from './fragment.js';
import { MetadataError, decodeXmlBytes } from './metadata.js';
import { XmlError, attr, child, childText, childrenNamed, parseXml, type XElement } from './xml.js';
import { serialize } from './xml-writer.js';

export const ASSETS_SETTING_KEY = 'eopkgAssets';
export const ASSET_KINDS = ['distribution', 'components', 'groups'] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];
export type EopkgAssetsSetting = Partial<Record<AssetKind, string>>;
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

/** The assets stored in repository settings (shape-checked). */
export function assetsSetting(settings: Record<string, unknown>): EopkgAssetsSetting {
  const raw = settings[ASSETS_SETTING_KEY];
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object') throw new RcuError('BAD_INPUT', `repository setting ${ASSETS_SETTING_KEY} must be an object`);
  const out: EopkgAssetsSetting = {};
  for (const k of ASSET_KINDS) {
    const v = (raw as Record<string, unknown>)[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new RcuError('BAD_INPUT', `repository setting ${ASSETS_SETTING_KEY}.${k} must be XML text`);
    out[k] = v;
  }
  return out;
}

/** Return new settings with one asset set (text) or removed (undefined), after validating it. */
export function withAsset(settings: Record<string, unknown>, kind: AssetKind, text: string | undefined): Record<string, unknown> {
  const cur = assetsSetting(settings);
  if (text === undefined) delete cur[kind];
  else {
    validateAsset(kind, text);
    cur[kind] = text;
  }
  return { ...settings, [ASSETS_SETTING_KEY]: cur };
}

const memo = new Map<string, ParsedAssets>();

/** Parse all assets from settings (memoised by content within the process). */
export function parseAssets(settings: Record<string, unknown>): ParsedAssets {
  const s = assetsSetting(settings);
  const key = createHash('sha1').update(JSON.stringify([s.distribution ?? null, s.components ?? null, s.groups ?? null])).digest('hex');
  const hit = memo.get(key);
  if (hit) return hit;
  const d = s.distribution !== undefined ? validateDistribution(s.distribution) : { distribution: '', obsoletes: [] };
  const c = s.components !== undefined ? validateComponents(s.components) : { components: '', componentNames: [] };
  const g = s.groups !== undefined ? validateGroups(s.groups) : { groups: '', groupNames: [] };
  const parsed: ParsedAssets = { ...d, ...c, ...g };
  if (memo.size > 8) memo.clear();
  memo.set(key, parsed);
  return parsed;
}

