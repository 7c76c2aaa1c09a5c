/**
 * Answers of the HTTP server that are pages rather than snapshot files: the list of repositories
 * (`GET /`), redirects of folders asked for without their slash, and sending a page as HTML or JSON
 * (the same data either way: `Accept: application/json` or `?format=json`).
 */
import type http from 'node:http';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { listRepoNames, readRepoConfig } from '../engine/repo.js';
import type { Res } from './serve-files.js';
import { wantsJson } from './serve-page-style.js';

export interface RepoSummary {
  name: string;
  format: string;
  current: number | null;
}

export async function reposIndex(layout: Layout): Promise<{ repos: RepoSummary[] }> {
  const names = await listRepoNames(layout);
  const repos = await Promise.all(
    names.map(async (name): Promise<RepoSummary | undefined> => {
      const repo = layout.repo(name);
      try {
        const [cfg, current] = await Promise.all([readRepoConfig(repo), readCurrent(repo)]);
        return { name, format: cfg.format, current: current ?? null };
      } catch {
        return undefined; // being created or deleted right now: not listed
      }
    }),
  );
  return { repos: repos.filter((r): r is RepoSummary => !!r) };
}

export function sendPage<T>(req: http.IncomingMessage, res: Res, data: T, html: (d: T) => string, extra: Record<string, string> = {}): void {
  const json = wantsJson(req.headers.accept, req.url ?? '');
  const body = json ? JSON.stringify(data, null, 1) + '\n' : html(data);
  res.len = Buffer.byteLength(body);
  res.writeHead(200, { 'Content-Type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8', 'Content-Length': res.len, Vary: 'Accept', 'Cache-Control': 'no-cache', ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** 301 to the same path with a slash added (query kept; an absolute-form target becomes a path). */
export function redirectToSlash(res: Res, url: string, extra: Record<string, string> = {}): void {
  const abs = /^https?:\/\/[^/]*/i.exec(url);
  const u = abs ? url.slice(abs[0].length) || '/' : url;
  const q = u.indexOf('?');
  const location = q < 0 ? `${u}/` : `${u.slice(0, q)}/${u.slice(q)}`;
  res.len = 0;
  res.writeHead(301, { Location: location, 'Content-Length': 0, ...extra });
  res.end();
}
