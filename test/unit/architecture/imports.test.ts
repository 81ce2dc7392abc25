/**
 * The house rules on imports (STYLE.md "Dependency direction"), checked on the source tree:
 * no import cycles, the engine stays pure, adapters never import each other, nothing imports
 * the composition root.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', '..', '..', 'src');

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports (type-only included: they still tie the modules together). */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) {
    const spec = m[1] as string;
    if (!spec.startsWith('.')) {
      packages.push(spec);
      continue;
    }
    const base = normalize(join(dirname(file), spec));
    const target = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c));
    if (target) local.push(target);
  }
  return { local, packages };
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string): string => relative(SRC, f);
const room = (f: string): string => rel(f).split('/')[0] as string;
const edges: Edge[] = [...graph].flatMap(([from, { local }]) => local.map((to) => ({ from: rel(from), to: rel(to) })));

function findCycles(): string[] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 1);
    stack.push(f);
    for (const to of graph.get(f)?.local ?? []) {
      if (state.get(to) === 1) cycles.push([...stack.slice(stack.indexOf(to)), to].map(rel).join(' → '));
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

describe('import rules (STYLE.md)', () => {
  it('the source tree has files and import edges to check', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
  });

  it('has no import cycles', () => {
    expect(findCycles()).toEqual([]);
  });

  it('the execution engine imports no adapter, room above it, pg or amqplib', () => {
    const banned = new Set(['db', 'mq', 'api', 'logs', 'packs', 'worker', 'wiring', 'agent.ts', 'cli.ts']);
    const bad = edges.filter((e) => room(join(SRC, e.from)) === 'execution' && banned.has(e.to.split('/')[0] as string));
    const pkgs = [...graph].filter(([f]) => room(f) === 'execution').flatMap(([f, g]) => g.packages.filter((p) => ['pg', 'amqplib', 'commander'].includes(p)).map((p) => `${rel(f)} → ${p}`));
    expect([...bad.map((e) => `${e.from} → ${e.to}`), ...pkgs]).toEqual([]);
  });

  it('adapters (db, mq, api) never import each other', () => {
    const adapters = new Set(['db', 'mq', 'api']);
    const bad = edges.filter((e) => {
      const a = e.from.split('/')[0] as string;
      const b = e.to.split('/')[0] as string;
      return adapters.has(a) && adapters.has(b) && a !== b;
    });
    expect(bad.map((e) => `${e.from} → ${e.to}`)).toEqual([]);
  });

  it('nothing imports the composition root or the CLI', () => {
    const bad = edges.filter((e) => e.to === 'agent.ts' || e.to === 'cli.ts').filter((e) => e.from !== 'main.ts' && e.from !== 'cli.ts');
    expect(bad.map((e) => `${e.from} → ${e.to}`)).toEqual([]);
  });
});
