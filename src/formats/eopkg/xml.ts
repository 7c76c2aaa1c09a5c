/**
 * A small, strict XML reader for eopkg metadata and repository assets. fast-xml-parser does the tokenising
 * (after XMLValidator, because the parser itself accepts truncated input); this module refuses DOCTYPE and
 * entity declarations up front, decodes character references itself (only the five predefined entities and
 * numeric references are allowed), and returns a plain element tree.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XElement {
  name: string;
  /** Attributes in document order; values decoded. */
  attrs: [string, string][];
  children: XElement[];
  /** Decoded text of a leaf element ('' when empty); undefined when the element has element children. */
  text: string | undefined;
}

/** Thrown for any XML the reader refuses; callers turn it into an RcuError naming the file. */
export class XmlError extends Error {}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
});

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

// Characters XML 1.0 forbids even as literals (lone surrogates included).
// eslint-disable-next-line no-control-regex
const BAD_LITERAL = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Decode the predefined entities and numeric character references; refuse anything else. */
export function decodeText(raw: string, normalizeNewlines = true): string {
  let s = normalizeNewlines ? raw.replace(/\r\n?/g, '\n') : raw;
  if (BAD_LITERAL.test(s)) throw new XmlError('text contains a character XML does not allow');
  if (!s.includes('&')) return s;
  let out = '';
  let i = 0;
  for (;;) {
    const amp = s.indexOf('&', i);
    if (amp < 0) break;
    out += s.slice(i, amp);
    const semi = s.indexOf(';', amp);
    if (semi < 0 || semi - amp > 12) throw new XmlError(`unterminated entity reference near '${s.slice(amp, amp + 12)}'`);
    const ent = s.slice(amp + 1, semi);
    let rep: string | undefined;
    if (ent.startsWith('#x') || ent.startsWith('#X')) {
      if (/^[0-9a-fA-F]{1,6}$/.test(ent.slice(2))) rep = codePoint(parseInt(ent.slice(2), 16));
    } else if (ent.startsWith('#')) {
      if (/^[0-9]{1,7}$/.test(ent.slice(1))) rep = codePoint(parseInt(ent.slice(1), 10));
    } else {
      rep = PREDEFINED[ent];
    }
    if (rep === undefined) throw new XmlError(`entity reference '&${ent};' is not allowed`);
    out += rep;
    i = semi + 1;
  }
  s = out + s.slice(i);
  return s;
}

function codePoint(cp: number): string {
  if (!isXmlChar(cp)) throw new XmlError(`character reference to U+${cp.toString(16).toUpperCase()} is not allowed`);
  return String.fromCodePoint(cp);
}

type RawNode = Record<string, unknown>;

function convert(node: RawNode): XElement | string | undefined {
  const keys = Object.keys(node).filter((k) => k !== ':@');
  const key = keys[0];
  if (key === undefined) return undefined;
  const val = node[key];
  if (key === '#text') return decodeText(String(val));
  if (key === '#cdata') {
    const parts = Array.isArray(val) ? (val as RawNode[]) : [];
    return parts.map((p) => String(p['#text'] ?? '')).join('');
  }
  if (key.startsWith('?') || key.startsWith('!')) return undefined;
  const attrsRaw = (node[':@'] ?? {}) as Record<string, unknown>;
  const attrs: [string, string][] = Object.entries(attrsRaw).map(([k, v]) => [k, decodeText(String(v))]);
  const children: XElement[] = [];
  let text = '';
  for (const c of (Array.isArray(val) ? val : []) as RawNode[]) {
    const r = convert(c);
    if (r === undefined) continue;
    if (typeof r === 'string') text += r;
    else children.push(r);
  }
  if (children.length > 0) {
    if (text.trim() !== '') {
      const lang = attrs.find(([k]) => k === 'xml:lang');
      throw new XmlError(`element <${key}${lang ? ` xml:lang="${lang[1]}"` : ''}> is broken (mixes text and elements)`);
    }
    return { name: key, attrs, children, text: undefined };
  }
  return { name: key, attrs, children, text };
}

/** Parse a complete XML document into its root element. Throws XmlError with a reason. */
export function parseXml(xml: string): XElement {
  const head = xml.slice(0, 1 << 20);
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(head) || /<!ENTITY/i.test(xml)) {
    throw new XmlError('DOCTYPE or ENTITY declarations are not allowed');
  }
  const v = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (v !== true) throw new XmlError(`malformed XML (line ${v.err.line}: ${v.err.msg})`);
  let raw: RawNode[];
  try {
    raw = parser.parse(xml) as RawNode[];
  } catch (e) {
    throw new XmlError(`malformed XML (${(e as Error).message})`);
  }
  const roots: XElement[] = [];
  for (const n of raw) {
    const r = convert(n);
    if (r === undefined) continue;
    if (typeof r === 'string') {
      if (r.trim() !== '') throw new XmlError('text outside the root element');
      continue;
    }
    roots.push(r);
  }
  if (roots.length !== 1) throw new XmlError(roots.length === 0 ? 'no root element' : 'more than one root element');
  return roots[0]!;
}

export function child(el: XElement, name: string): XElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function childrenNamed(el: XElement, name: string): XElement[] {
  return el.children.filter((c) => c.name === name);
}

export function attr(el: XElement, name: string): string | undefined {
  return el.attrs.find(([k]) => k === name)?.[1];
}

/** Text of a leaf child, trimmed; undefined when absent or not a leaf. */
export function childText(el: XElement, name: string): string | undefined {
  const c = child(el, name);
  return c?.text === undefined ? undefined : c.text.trim();
}
