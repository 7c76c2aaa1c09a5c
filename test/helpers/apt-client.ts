/**
 * A real apt client with private state: its own lists, cache, sources and preferences under a temp dir,
 * so tests never touch the machine's apt configuration. Every call has a timeout.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './cli.js';

export const hasApt = (): boolean => spawnSync('apt-get', ['--version']).status === 0 && spawnSync('apt-cache', ['--version']).status === 0;

export class AptClient {
  readonly dir: string;
  constructor(
    sourcesLine: string,
    readonly archs: readonly string[] = ['amd64'],
  ) {
    this.dir = tempDir('rcurepo-apt-');
    for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d', 'log', 'download']) fs.mkdirSync(path.join(this.dir, d), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'state/status'), '');
    this.setSources(sourcesLine);
  }

  setSources(line: string): void {
    fs.writeFileSync(path.join(this.dir, 'etc/sources.list'), line + '\n');
  }

  private options(): string[] {
    const d = this.dir;
    const o = [
      `Dir::State=${d}/state`,
      `Dir::State::status=${d}/state/status`,
      `Dir::Cache=${d}/cache`,
      `Dir::Etc::SourceList=${d}/etc/sources.list`,
      `Dir::Etc::SourceParts=${d}/etc/sources.list.d`,
      `Dir::Etc::Preferences=${d}/etc/preferences`,
      `Dir::Etc::PreferencesParts=${d}/etc/preferences.d`,
      `Dir::Etc::Parts=${d}/etc/apt.conf.d`,
      `Dir::Log=${d}/log`,
      `APT::Architecture=${this.archs[0]}`,
      'APT::Architectures::=' + this.archs[0],
      ...this.archs.slice(1).map((a) => `APT::Architectures::=${a}`),
      'Debug::NoLocking=1',
      // As root apt drops to _apt for downloads, which cannot write into this private tree.
      'APT::Sandbox::User=root',
      'Acquire::Retries=0',
      'Acquire::http::Timeout=20',
      'Acquire::Languages=none',
    ];
    return o.flatMap((x) => ['-o', x]);
  }

  run(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string): { code: number | null; out: string } {
    const r = spawnSync(tool, [...this.options(), ...args], { encoding: 'utf8', timeout: 90_000, cwd: cwd ?? this.dir, env: { ...process.env, LC_ALL: 'C' } });
    return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
  }

  /** apt-get update; throws with apt's output unless it succeeded without errors or warnings. */
  update(): string {
    const r = this.run('apt-get', ['update']);
    if (r.code !== 0 || /^(E|W):/m.test(r.out)) throw new Error(`apt-get update failed (exit ${r.code}):\n${r.out}`);
    return r.out;
  }

  /** The candidate version apt-cache policy shows for `pkg` ('(none)' when unknown). */
  candidate(pkg: string): string {
    const r = this.run('apt-cache', ['policy', pkg]);
    const m = /Candidate: (\S+)/.exec(r.out);
    return m ? m[1]! : '(none)';
  }

  /** apt-get download into a fresh folder; returns the downloaded file's path. */
  download(spec: string): string {
    const dir = fs.mkdtempSync(path.join(this.dir, 'download', 'd-'));
    const r = this.run('apt-get', ['download', spec], dir);
    if (r.code !== 0) throw new Error(`apt-get download ${spec} failed (exit ${r.code}):\n${r.out}`);
    const files = fs.readdirSync(dir);
    if (files.length !== 1) throw new Error(`apt-get download ${spec}: expected one file, got ${files.join(', ')}`);
    return path.join(dir, files[0]!);
  }
}
