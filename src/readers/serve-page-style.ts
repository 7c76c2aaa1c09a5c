/**
 * The look shared by every page the server renders (listings, repository pages): one inline style
 * sheet, no external assets, readable on a phone (viewport meta, fluid table, long names wrap).
 */
import { escapeHtml } from './http-util.js';

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--mut:#57606a;--line:#d0d7de;--bg:#fff;--hi:#f6f8fa;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--mut:#9aa4ae;--line:#30363d;--bg:#0d1117;--hi:#161b22;--link:#6cb6ff}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:72rem;margin:0 auto}
h1{font-size:1.25rem;margin:.2rem 0 .6rem;word-break:break-all}
h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
.meta{color:var(--mut);font-size:.9rem;margin:.2rem 0 .8rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--mut)}
tbody tr:nth-child(even){background:var(--hi)}
td.name{word-break:break-all}
.scroll{overflow-x:auto}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.date{white-space:nowrap;color:var(--mut)}
.pill{display:inline-block;padding:0 .4rem;border:1px solid var(--line);border-radius:1rem;font-size:.8rem}
input[type=search]{width:100%;max-width:28rem;padding:.45rem .6rem;font:inherit;border:1px solid var(--line);border-radius:.4rem;background:var(--bg);color:var(--fg)}
form{margin:.4rem 0 .6rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:var(--mut)}dd{margin:0}
@media (max-width:40rem){body{padding:.6rem;font-size:14px}.wide{display:none}th,td{padding:.3rem .35rem}td.date{white-space:normal;font-size:.8rem;min-width:5.5rem}}
`;

/** The page up to and including the opening <main>; `title` is escaped here. */
export function pageHead(title: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>\n`;
}

export const pageFoot = '</main></body></html>\n';

/** 1234567 -> "1.2 MiB" (exact bytes go in a title attribute next to it). */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "2026-11-30 05:40" (UTC), the autoindex style. */
export function shortDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** True when the client asked for JSON (Accept: application/json, not preferring HTML) or ?format=json. */
export function wantsJson(accept: string | undefined, url: string): boolean {
  if (/[?&]format=json(&|$)/.test(url)) return true;
  if (!accept) return false;
  const j = accept.indexOf('application/json');
  if (j < 0) return false;
  const h = accept.indexOf('text/html');
  return h < 0 || j < h;
}
