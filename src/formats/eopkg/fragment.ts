/**
 * The per-package `<Package>` fragment of the index: the metadata.xml <Package> element, re-serialised
 * deterministically, split where the computed children (PackageSize, PackageHash, PackageURI,
 * DeltaPackages) go: right after InstalledSize, as in PiSi's own schema order.
 */
import type { XElement } from './xml.js';
import { escapeAttr, escapeText, indent, serialize } from './xml-writer.js';

/** Elements that must carry xml:lang and must never be emitted empty. */
export const PACKAGE_LOCALIZED = new Set(['Summary', 'Description']);
const COMPUTED = new Set(['PackageSize', 'PackageHash', 'PackageURI', 'DeltaPackages']);

export interface Fragment {
  /** `    <Package>\n` ... up to and including InstalledSize. */
  head: string;
  /** From the element after InstalledSize to `    </Package>\n`. */
  tail: string;
}

/** Give a localized element xml:lang="en" when it has none (the client's default language). */
export function withLang(el: XElement): XElement {
  if (el.attrs.some(([k]) => k === 'xml:lang')) return el;
  return { ...el, attrs: [['xml:lang', 'en'], ...el.attrs] };
}

export function buildFragment(pkg: XElement): Fragment {
  const kids: XElement[] = [];
  for (const c of pkg.children) {
    if (COMPUTED.has(c.name)) continue;
    if (PACKAGE_LOCALIZED.has(c.name)) {
      if (c.children.length > 0 || (c.text ?? '').trim() === '') continue; // never emit an empty localized element
      kids.push(withLang(c));
    } else kids.push(c);
  }
  let cut = kids.findIndex((c) => c.name === 'InstalledSize') + 1;
  if (cut === 0) cut = kids.length;
  let head = `${indent(1)}<Package>\n`;
  for (const c of kids.slice(0, cut)) head += serialize(c, 2);
  let tail = '';
  for (const c of kids.slice(cut)) tail += serialize(c, 2);
  tail += `${indent(1)}</Package>\n`;
  return { head, tail };
}

export interface DeltaRef {
  releaseFrom: number;
  uri: string;
  size: number;
  sha1: string;
}

/** The computed children of one index <Package>. */
export function computedChildren(size: number, sha1: string, uri: string, deltas: readonly DeltaRef[]): string {
  const p2 = indent(2);
  let s = `${p2}<PackageSize>${size}</PackageSize>\n${p2}<PackageHash>${sha1}</PackageHash>\n${p2}<PackageURI>${escapeText(uri)}</PackageURI>\n`;
  if (deltas.length > 0) {
    const p3 = indent(3);
    const p4 = indent(4);
    s += `${p2}<DeltaPackages>\n`;
    for (const d of deltas) {
      s += `${p3}<Delta releaseFrom="${escapeAttr(String(d.releaseFrom))}">\n`;
      s += `${p4}<PackageURI>${escapeText(d.uri)}</PackageURI>\n${p4}<PackageSize>${d.size}</PackageSize>\n${p4}<PackageHash>${d.sha1}</PackageHash>\n`;
      s += `${p3}</Delta>\n`;
    }
    s += `${p2}</DeltaPackages>\n`;
  }
  return s;
}
