/**
 * Deterministic XML serialisation: every element on its own line, four-space indentation, attributes in
 * their original order (xml:lang kept), & < > " escaped, and non-ASCII control, separator and symbol
 * characters written as numeric character references (the safest form for the eopkg client).
 */
import type { XElement } from './xml.js';

const INDENT = '    ';

function ref(cp: number): string {
  return `&#${cp};`;
}

const NEEDS_REF = /[\p{Cc}\p{Z}\p{S}]/u;
// Fast pre-check: anything that may need escaping at all.
// eslint-disable-next-line no-control-regex
const MAYBE_TEXT = /[&<>"\r\u0080-\u{10FFFF}]/u;
// eslint-disable-next-line no-control-regex
const ALL_TEXT = /[&<>"\r]|[\u0080-\u{10FFFF}]/gu;
// eslint-disable-next-line no-control-regex
const ALL_ATTR = /[&<>"\r\n\t]|[\u0080-\u{10FFFF}]/gu;

function escapeChar(ch: string): string {
  switch (ch) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    case '\r':
      return '&#13;';
    case '\n':
      return '&#10;';
    case '\t':
      return '&#9;';
    default: {
      const cp = ch.codePointAt(0)!;
      return NEEDS_REF.test(ch) ? ref(cp) : ch;
    }
  }
}

export function escapeText(s: string): string {
  if (!MAYBE_TEXT.test(s)) return s;
  return s.replace(ALL_TEXT, escapeChar);
}

export function escapeAttr(s: string): string {
  return s.replace(ALL_ATTR, escapeChar);
}

/** One leaf element line: `<indent><name attrs>text</name>\n`. */
export function leaf(depth: number, name: string, text: string, attrs: readonly [string, string][] = []): string {
  const a = attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
  return text === '' ? `${INDENT.repeat(depth)}<${name}${a}/>\n` : `${INDENT.repeat(depth)}<${name}${a}>${escapeText(text)}</${name}>\n`;
}

/** Serialise an element (and its subtree) at the given depth. */
export function serialize(el: XElement, depth: number): string {
  if (el.children.length === 0) {
    const t = el.text ?? '';
    return leaf(depth, el.name, t.trim() === '' ? '' : t, el.attrs);
  }
  const pad = INDENT.repeat(depth);
  const a = el.attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
  let out = `${pad}<${el.name}${a}>\n`;
  for (const c of el.children) out += serialize(c, depth + 1);
  return out + `${pad}</${el.name}>\n`;
}

export function indent(depth: number): string {
  return INDENT.repeat(depth);
}
