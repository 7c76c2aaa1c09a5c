/**
 * Directory listings of the HTTP server, HTML (the autoindex page mirror users know: name, size, date,
 * folders first, then by name) or JSON, read from the generation the request leased -- the same pinned
 * generation its files come from. Only real folders and regular files are listed: symbolic links, FIFOs
 * and devices (which a snapshot never holds, but a hand-edited one might) are left out, so a listing
 * never points outside the snapshot. Every name is escaped.
 *
 * Large folders are streamed: the page head goes out at once, rows follow in batches as their sizes
 * and dates are read (50,000 entries: first byte well under 200 ms, BENCHMARKS.md).
 */
import fs from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Res } from './serve-files.js';
import { escapeHtml } from './http-util.js';
import { humanBytes, pageFoot, pageHead, shortDate } from './serve-page-style.js';

const BATCH = 256;

export interface ListingTarget {
  repo: string;
  gen: number;
  /** Folder relative to the snapshot root ('' for the root). */
  rel: string;
  /** Absolute path of the folder inside snapshots/GEN. */
  dir: string;
  json: boolean;
  /** The repository page, linked from the heading. */
  pageHref: string;
}

/** Folders first, then files; each by name in code-point order (stable and locale-free). */
function byKindThenName(a: Dirent, b: Dirent): number {
  const da = a.isDirectory();
  if (da !== b.isDirectory()) return da ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Write the listing; resolves when the last byte was handed to the response. */
export async function sendListing(res: Res, t: ListingTarget): Promise<void> {
  const head = res.req.method === 'HEAD';
  res.writeHead(200, {
    'Content-Type': t.json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'X-Rcurepo-Generation': String(t.gen),
    Vary: 'Accept',
    'Cache-Control': 'no-cache',
  });
  if (head) return void res.end();
  let sent = 0;
  const write = async (s: string) => {
    sent += Buffer.byteLength(s);
    if (!res.write(s)) await new Promise<void>((r) => (res.writableNeedDrain ? res.once('drain', r).once('close', r) : r()));
  };
  const title = `${t.repo}/${t.rel ? `${t.rel}/` : ''}`;
  // The page head goes out before the folder is read: the first byte does not wait for 50,000 names.
  if (t.json) await write(`{"repo":${JSON.stringify(t.repo)},"generation":${t.gen},"path":${JSON.stringify(`/${t.rel}`)},"entries":[`);
  else {
    const up = t.rel ? '<tr><td class="name"><a href="../">../</a></td><td class="num"></td><td class="date"></td></tr>\n' : '';
    await write(
      `${pageHead(`Index of /${title}`)}<h1>Index of /${escapeHtml(title)}</h1>\n<p class="meta">generation ${t.gen} · <a href="${escapeHtml(t.pageHref)}">repository page</a></p>\n<table><thead><tr><th>Name</th><th class="num">Size</th><th>Date (UTC)</th></tr></thead><tbody>\n${up}`,
    );
  }
  let ents: Dirent[];
  try {
    ents = (await fsp.readdir(t.dir, { withFileTypes: true })).filter((e) => e.isDirectory() || e.isFile()).sort(byKindThenName);
  } catch (e) {
    res.destroy(e as Error); // the status is sent: a cut-off body is the only honest answer now
    return;
  }
  let firstJson = true;
  let shown = 0;
  for (let i = 0; i < ents.length && !res.destroyed; i += BATCH) {
    const batch = ents.slice(i, i + BATCH);
    let chunk = '';
    for (const e of batch) {
      // Synchronous lstat, a batch at a time with the event loop free in between: a snapshot folder is
      // local and usually cached (about 2 µs per entry), where one promise per entry cost 5 times more.
      let st: Stats | undefined;
      try {
        st = fs.lstatSync(path.join(t.dir, e.name));
      } catch {
        continue; // gone since readdir
      }
      if (!st.isFile() && !st.isDirectory()) continue; // replaced by something we never list
      const dir = st.isDirectory();
      shown++;
      if (t.json) {
        chunk += `${firstJson ? '' : ','}{"name":${JSON.stringify(e.name)},"type":"${dir ? 'dir' : 'file'}","size":${dir ? 0 : st.size},"mtime":"${new Date(st.mtimeMs).toISOString()}"}`;
        firstJson = false;
      } else {
        const href = escapeHtml(encodeURIComponent(e.name) + (dir ? '/' : ''));
        const name = escapeHtml(e.name + (dir ? '/' : ''));
        const size = dir ? '-' : `<span title="${st.size} bytes">${humanBytes(st.size)}</span>`;
        chunk += `<tr><td class="name"><a href="${href}">${name}</a></td><td class="num">${size}</td><td class="date">${shortDate(st.mtimeMs)}</td></tr>\n`;
      }
    }
    await write(chunk);
    await new Promise<void>((r) => setImmediate(r));
  }
  await write(t.json ? ']}\n' : `</tbody></table>\n<p class="meta">${shown} entries</p>\n${pageFoot}`);
  res.len = sent;
  res.end();
}
