/**
 * The heap trimmer (src/util/heap-trim.ts) on the Node the single executable ships (the pinned
 * Node 24): after a full collection V8 keeps the freed pages in its pool, resident; the trimmer
 * sees the committed heap shrink and its memory-reducing collection gives those pages back.
 */
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureNode } from '../../scripts/build-sea.mjs';
import { REPO_ROOT } from '../support/sea';

const PROBE = `
import { readFileSync } from 'node:fs';
import { collectGarbage, v8HeapTrimPorts } from './src/util/gc';
import { HeapTrimmer } from './src/util/heap-trim';
const anonKiB = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
let retained = [];
for (let i = 0; i < 600000; i++) retained.push({ i, s: 'item-' + i + '-' + Math.random() });
const trimmer = new HeapTrimmer(v8HeapTrimPorts(), { minShrinkBytes: 4 * 1024 * 1024, minIntervalMs: 0 });
const atHigh = trimmer.check();
retained = null;
collectGarbage();
const pooledKiB = anonKiB();
const trim = trimmer.check();
process.stdout.write(JSON.stringify({ atHigh, trim, pooledKiB, trimmedKiB: anonKiB() }));
`;

let node24: string;
let bundle: string;

beforeAll(async () => {
  node24 = ensureNode('x64').bin;
  const out = await build({
    stdin: { contents: PROBE, resolveDir: REPO_ROOT, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error('esbuild wrote no bundle for the probe');
  bundle = file.text;
});

describe('heap trimmer on Node 24', () => {
  it("returns the pages a full collection left in V8's pool to the OS", () => {
    const r = spawnSync(node24, ['--max-semi-space-size=8', '-e', bundle], { encoding: 'utf8', cwd: REPO_ROOT, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as {
      atHigh: unknown;
      trim: { beforeBytes: number; afterBytes: number; highBytes: number } | null;
      pooledKiB: number;
      trimmedKiB: number;
    };
    expect(got.atHigh).toBeNull();
    expect(got.trim).not.toBeNull();
    expect(got.trim!.highBytes - got.trim!.beforeBytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // The pooled pages (tens of MiB after dropping ~60 MiB of objects) leave the process.
    expect(got.pooledKiB - got.trimmedKiB).toBeGreaterThan(16 * 1024);
  });
});
