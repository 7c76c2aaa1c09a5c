/**
 * The layering of src/ (docs/architecture: calls point down), checked over the real import graph of the
 * sources: every static import, export-from and dynamic import() of a relative module, type-only ones
 * included (a type is a dependency too: it lives with the lowest module that produces it).
 *
 *   cli.ts, cli/ -> commands/ -> readers/, hooks/ (and other service folders) -> publish/ -> engine/
 *   -> formats/ -> signing/ (gpg, which formats call on their staging files) -> util/
 *
 * Fails when a module below commands/ imports commands/ or cli/, when engine/ or formats/ import anything
 * above them, when folders import each other in a cycle, or when anything but main.ts calls process.exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Folders a module of each lower folder may import (besides its own); the service folders are free below publish/. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  util: [],
  signing: ['util'],
  formats: ['signing', 'util'],
  engine: ['formats', 'signing', 'util'],
  publish: ['engine', 'formats', 'signing', 'util'],
};
/** The top: everything else (readers/, hooks/, any new folder) is below commands/ and may not import these. */
const ABOVE_BELOW = ['commands', 'cli', 'main'];

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** src/engine/pool.ts -> 'engine'; src/cli.ts -> 'cli' (argument wiring, with cli/); src/main.ts -> 'main'. */
function folderOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = (m[1] ?? m[2])!;
    out.push(path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Strip comments so prose that mentions `import ... from '...'` or process.exit() is not taken for code. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export interface Graph {
  files: string[];
  edges: Map<string, string[]>;
  sources: Map<string, string>;
}

function graph(): Graph {
  const files = walk(SRC);
  const edges = new Map<string, string[]>();
  const sources = new Map<string, string>();
  for (const f of files) {
    const text = code(fs.readFileSync(f, 'utf8'));
    sources.set(f, text);
    edges.set(f, importsOf(f, text));
  }
  return { files, edges, sources };
}

/** Every violation of the layering rules, one line each (empty = the house is straight). */
export function layeringViolations(g: Graph): string[] {
  const bad: string[] = [];
  const rel = (f: string) => path.relative(path.dirname(SRC), f);
  const folderEdges = new Map<string, Set<string>>();
  const witness = new Map<string, string>();
  for (const [from, tos] of g.edges) {
    const a = folderOf(from);
    for (const to of tos) {
      if (!to.startsWith(SRC + path.sep)) continue;
      if (!fs.existsSync(to)) bad.push(`${rel(from)} imports ${rel(to)}, which does not exist`);
      const b = folderOf(to);
      if (a === b) continue;
      if (!ABOVE_BELOW.includes(a) && ABOVE_BELOW.includes(b)) bad.push(`${rel(from)} (${a}/) imports ${rel(to)}: nothing below commands/ may import commands/ or cli/`);
      const allowed = MAY_IMPORT[a];
      if (allowed && !allowed.includes(b) && !ABOVE_BELOW.includes(b)) bad.push(`${rel(from)} (${a}/) imports ${rel(to)} (${b}/): ${a}/ may import only ${allowed.length ? allowed.join(', ') : 'nothing outside itself'}`);
      (folderEdges.get(a) ?? folderEdges.set(a, new Set()).get(a)!).add(b);
      if (!witness.has(`${a}>${b}`)) witness.set(`${a}>${b}`, `${rel(from)} -> ${rel(to)}`);
    }
  }
  for (const cycle of folderCycles(folderEdges)) {
    const steps = cycle.map((f, i) => witness.get(`${f}>${cycle[(i + 1) % cycle.length]}`)).join('; ');
    bad.push(`import cycle across folders ${[...cycle, cycle[0]].join(' -> ')}: ${steps}`);
  }
  for (const [f, text] of g.sources) {
    if (folderOf(f) === 'main') continue;
    if (/\bprocess\.exit\s*\(/.test(text)) bad.push(`${rel(f)} calls process.exit: only src/main.ts ends the process`);
  }
  return bad;
}

/** Strongly connected groups of more than one folder (Tarjan), each as one cycle through its members. */
function folderCycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) out.push(cycleThrough(group, edges));
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** A concrete cycle inside a strongly connected group (shortest path back to its first member). */
function cycleThrough(group: string[], edges: Map<string, Set<string>>): string[] {
  const inGroup = new Set(group);
  const start = group.sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!inGroup.has(w)) continue;
      if (w === start) {
        const path: string[] = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return group;
}

test('layering: calls point down, no folder cycles, only main.ts ends the process', () => {
  const g = graph();
  assert.ok(g.files.length > 50, `found the sources (${g.files.length} modules)`);
  assert.ok([...g.edges.values()].flat().length > 200, 'found their imports');
  assert.deepEqual(layeringViolations(g), []);
});

test('layering: the check sees each kind of violation', () => {
  // The same check over a copy of the real graph with one bad edge added each time: it must object.
  const g = graph();
  const at = (p: string) => path.join(SRC, p);
  const cases: Array<[string, string, RegExp]> = [
    ['hooks/watcher.ts', 'commands/import.ts', /nothing below commands\/ may import commands/],
    ['readers/serve.ts', 'cli/context.ts', /nothing below commands\/ may import commands\/ or cli/],
    ['engine/pool.ts', 'publish/pending.ts', /engine\/ may import only formats, signing, util/],
    ['formats/files/index.ts', 'engine/layout.ts', /formats\/ may import only signing, util/],
    ['publish/pending.ts', 'hooks/uploads.ts', /publish\/ may import only engine, formats, signing, util/],
    ['readers/reaper.ts', 'hooks/uploads.ts', /import cycle across folders/],
  ];
  for (const [from, to, want] of cases) {
    const edges = new Map(g.edges);
    edges.set(at(from), [...(edges.get(at(from)) ?? []), at(to)]);
    if (want.source.includes('cycle')) edges.set(at(to), [...(edges.get(at(to)) ?? []), at(from)]);
    const found = layeringViolations({ ...g, edges });
    assert.ok(found.some((l) => want.test(l)), `${from} -> ${to} reported: ${found.join(' | ')}`);
  }
  const sources = new Map(g.sources);
  sources.set(at('hooks/watcher.ts'), 'process.exit(1);');
  assert.ok(layeringViolations({ ...g, sources }).some((l) => /calls process\.exit/.test(l)));
});
