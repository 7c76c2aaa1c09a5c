/**
 * The text inside an OpenPGP clearsigned message (RFC 4880 section 7), as Debian's .dsc and .changes
 * files often are: the armor header lines and the signature block are dropped, dash-escaped lines
 * ("- -----...") unescaped. Text that is not clearsigned comes back as it is. Checking the signature is
 * gpgv's job (src/signing/); this only reads what was signed.
 */

import { decodeUtf8, parseParagraph, type ControlField } from './control.js';

const BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIG = '-----BEGIN PGP SIGNATURE-----';
const END = '-----END PGP SIGNATURE-----';

export interface Unarmored {
  text: string;
  /** True when the text was clearsigned. */
  signed: boolean;
}

/** Returns the signed text, or the reason the armor is malformed as a string. */
export function stripClearsign(text: string): Unarmored | string {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (lines[i] !== BEGIN) {
    if (text.includes(BEGIN)) return `text before '${BEGIN}'`;
    return { text, signed: false };
  }
  i++;
  // Armor headers ("Hash: SHA512") up to the first empty line.
  while (i < lines.length && lines[i] !== '') {
    if (!/^[A-Za-z0-9-]+: /.test(lines[i]!)) return `bad armor header line '${lines[i]}'`;
    i++;
  }
  if (i >= lines.length) return 'clearsigned message has no signed text';
  i++;
  const body: string[] = [];
  for (; i < lines.length && lines[i] !== SIG; i++) {
    const l = lines[i]!;
    if (l.startsWith('- ')) body.push(l.slice(2));
    else if (l.startsWith('-')) return `line '${l}' is not dash-escaped inside the signed text`;
    else body.push(l);
  }
  if (i >= lines.length) return `clearsigned message has no '${SIG}'`;
  const end = lines.indexOf(END, i);
  if (end < 0) return `clearsigned message has no '${END}'`;
  if (lines.slice(end + 1).some((l) => l.trim() !== '')) return `text after '${END}'`;
  return { text: body.join('\n') + '\n', signed: true };
}

/**
 * A Debian control file that may be clearsigned (a .dsc, a .changes): UTF-8 text, the armor removed, one
 * paragraph parsed. Returns the reason as a string when any of those fails, worded with `kind`.
 */
export function readSignedParagraph(bytes: Uint8Array, kind: string): (Unarmored & { fields: ControlField[] }) | string {
  const text = decodeUtf8(bytes);
  if (text === undefined) return 'not UTF-8 text';
  const un = stripClearsign(text);
  if (typeof un === 'string') return `malformed clearsigned ${kind}: ${un}`;
  const fields = parseParagraph(un.text);
  if (typeof fields === 'string') return `malformed ${kind}: ${fields.replace(/^control file/, kind)}`;
  return { ...un, fields };
}
