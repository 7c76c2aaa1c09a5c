/**
 * The repository page as HTML. Works without JavaScript: the search box is a GET form (`?q=`) the
 * server filters by. With JavaScript, a small inline script narrows the table as one types (no
 * external assets). Every value from the repository is escaped.
 */
import { escapeHtml } from './http-util.js';
import { humanBytes, pageFoot, pageHead } from './serve-page-style.js';
import type { RepoPageData } from './repo-page-data.js';

const e = (v: unknown) => escapeHtml(v === undefined || v === null ? '' : String(v));

/** Narrow the package rows as the search box changes; the form still works when this never runs. */
const SEARCH_SCRIPT = `<script>
(function(){var i=document.getElementById('q'),rows=document.querySelectorAll('#packages tbody tr'),n=document.getElementById('shown');
if(!i)return;function f(){var q=i.value.trim().toLowerCase(),c=0;rows.forEach(function(r){var m=!q||r.getAttribute('data-name').indexOf(q)>=0;r.hidden=!m;if(m)c++;});if(n)n.textContent=c;}
i.addEventListener('input',f);f();})();
</script>`;

function historyRows(d: RepoPageData): string {
  return d.history
    .map((h) => {
      const changed = h.changes ? [...h.changes.added.map((p) => `+ ${p}`), ...h.changes.removed.map((p) => `- ${p}`), ...h.changes.replaced.map((p) => `~ ${p}`)] : [];
      const more = h.changes?.truncated ? ' …' : '';
      const detail = changed.length ? `<br><small>${changed.slice(0, 6).map(e).join('<br>')}${changed.length > 6 || more ? '<br>…' : ''}</small>` : '';
      const cur = h.generation === d.current ? ' <span class="pill">current</span>' : '';
      return `<tr><td class="num"><a href="../@${h.generation}/">${h.generation}</a>${cur}</td><td class="date">${e(h.time.slice(0, 19).replace('T', ' '))}</td><td class="name">${e(h.operation)} by ${e(h.actor)}: +${h.added} −${h.removed} ~${h.replaced}${detail}</td><td class="num wide">${h.durationSeconds === undefined ? '' : `${h.durationSeconds.toFixed(1)} s`}</td></tr>`;
    })
    .join('\n');
}

function packageSection(d: RepoPageData): string {
  const p = d.packages;
  if (!p) return `<h2>Packages</h2><p class="meta">The ${e(d.format)} format has no packages to list; browse the <a href="../@${d.generation}/">files</a>.</p>`;
  const rows = p.rows
    .map(
      (r) =>
        `<tr data-name="${e(r.name.toLowerCase())}"><td class="name"><a href="../@${d.generation}/${e(r.path.split('/').map(encodeURIComponent).join('/'))}">${e(r.name)}</a>${r.kind ? ` <span class="pill">${e(r.kind)}</span>` : ''}</td><td>${e(r.version)}</td><td class="num">${e(r.release)}</td><td>${e(r.arch)}</td><td class="num"><span title="${r.size} bytes">${humanBytes(r.size)}</span></td></tr>`,
    )
    .join('\n');
  const note = p.rows.length < p.matching ? ` (first ${p.rows.length} shown: narrow the search)` : '';
  return `<h2>Packages</h2>
<form method="get" action="./"><input type="search" id="q" name="q" value="${e(p.query)}" placeholder="Search packages by name" aria-label="Search packages"></form>
<p class="meta"><span id="shown">${p.rows.length}</span> shown · ${p.total} packages in generation ${d.generation}${p.query ? ` · ${p.matching} match “${e(p.query)}”` : ''}${note}</p>
<table id="packages"><thead><tr><th>Name</th><th>Version</th><th class="num">Release</th><th>Arch</th><th class="num">Size</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function smallTable(head: string[], rows: string[][], empty: string): string {
  if (!rows.length) return `<p class="meta">${empty}</p>`;
  return `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table></div>`;
}

/** 4000 -> "1 h 6 min": how long a mirror has been out of date. */
function humanSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const time = (iso: string) => e(iso.slice(0, 19).replace('T', ' '));

/** Each configured mirror: what it serves, how far behind current (generations, time), its last push and error. */
function mirrorSection(d: RepoPageData): string {
  if (!d.mirrors.length) return '<p class="meta">No mirrors (<code>rcurepo mirror add</code>).</p>';
  const rows = d.mirrors.map((m) => {
    const behind = m.lagGenerations === null ? '-' : m.lagGenerations === 0 ? '0 <span class="pill">up to date</span>' : `<strong>${e(m.lagGenerations)}</strong>`;
    const since = m.lagSeconds === null ? '-' : m.lagSeconds === 0 ? '0 s' : `<span title="${m.lagSeconds} s, since ${e(m.behindSince)}">${humanSeconds(m.lagSeconds)}</span>`;
    const push = m.lastPush ? `${e(m.lastPush.generation)} at ${time(m.lastPush.at)}, ${m.lastPush.durationSeconds.toFixed(1)} s, <span title="${e(m.lastPush.bytesSent)} bytes">${humanBytes(m.lastPush.bytesSent)}</span> sent` : 'never';
    const err = m.lastError ? `<span class="pill">${e(m.lastError.code)}</span> ${time(m.lastError.at)}${m.failures > 1 ? ` (${e(m.failures)} failures in a row)` : ''}<br><small>${e(m.lastError.message)}</small>` : '';
    return `<tr data-mirror="${e(m.mirror)}"><td class="name">${e(m.mirror)}</td><td class="num">${e(m.served ?? '-')}</td><td class="num">${behind}</td><td class="num">${since}</td><td class="wide">${push}</td><td class="name">${err}</td></tr>`;
  });
  return `<div class="scroll"><table id="mirrors"><thead><tr><th>Mirror</th><th class="num">Serves</th><th class="num">Behind</th><th class="num">Out of date for</th><th class="wide">Last push</th><th>Last error</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>`;
}

export function repoPageHtml(d: RepoPageData): string {
  const pinnedNote = d.generation !== d.current ? ` (reading generation ${d.generation})` : '';
  const lock = d.lock ? `held by pid ${e(d.lock.pid)} (${e(d.lock.user)}@${e(d.lock.host)}, ${e(d.lock.operation)} since ${e(d.lock.since)})` : 'free';
  return `${pageHead(`${d.repo} · rcurepo`)}<h1>${e(d.repo)}</h1>
<dl>
<dt>Format</dt><dd>${e(d.format)}</dd>
<dt>Current generation</dt><dd><a href="../">${e(d.current ?? 'none')}</a>${pinnedNote}</dd>
<dt>Snapshots kept</dt><dd>${d.snapshots.map((g) => `<a href="../@${g}/">${g}</a>`).join(' ')}</dd>
<dt>Writer lock</dt><dd>${lock}</dd>
</dl>
${packageSection(d)}
<h2>Recent history</h2>
<table><thead><tr><th class="num">Gen</th><th>Time (UTC)</th><th>Change</th><th class="num wide">Took</th></tr></thead><tbody>
${historyRows(d)}
</tbody></table>
<h2>Leases</h2>
${smallTable(['Generation', 'Holder', 'Pid', 'Expires', 'State'], d.leases.map((l) => [e(l.generation), e(l.holder), e(l.pid ?? '-'), e(l.expires), e(l.state)]), 'No leases.')}
<h2>Pins</h2>
${smallTable(['Generation', 'Since', 'Reason'], d.pins.map((p) => [e(p.generation), e(p.since ?? ''), e(p.reason ?? '')]), 'No pins.')}
<h2>Mirrors</h2>
${mirrorSection(d)}
<p class="meta"><a href="?format=json">JSON</a> · <a href="/">all repositories</a></p>
${SEARCH_SCRIPT}
${pageFoot}`;
}

/** `GET /`: every repository with its format and current generation. */
export function reposIndexHtml(d: { repos: Array<{ name: string; format: string; current: number | null }> }): string {
  const rows = d.repos
    .map((r) => `<tr><td class="name"><a href="${e(encodeURIComponent(r.name))}/">${e(r.name)}/</a></td><td>${e(r.format)}</td><td class="num">${e(r.current ?? '-')}</td><td><a href="${e(encodeURIComponent(r.name))}/@rcurepo/">page</a></td></tr>`)
    .join('\n');
  return `${pageHead('Repositories · rcurepo')}<h1>Repositories</h1>
<table><thead><tr><th>Name</th><th>Format</th><th class="num">Current</th><th>Details</th></tr></thead><tbody>
${rows}
</tbody></table>
<p class="meta">${d.repos.length} repositories · <a href="?format=json">JSON</a> · <a href="metrics">metrics</a></p>
${pageFoot}`;
}
