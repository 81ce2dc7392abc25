/**
 * In which order detection looks binaries up and starts their probes (issue 18): the PATH
 * lookups and spawns are recorded by pass-through wrappers around `which.sync` and `spawn`; both
 * still do the real work on fake interpreters.
 */
import { symlinkSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { detectRuntimes, isScript, probeStartOrder, type Located } from '../../../src/detect/probe';
import { RUNTIME_CANDIDATES } from '../../../src/detect/candidates';
import { createFakeBinDir, noFastPath, type FakeBinDir } from '../../support/fake-bin';

const events = vi.hoisted(() => [] as string[]);

vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:child_process')>();
  const spawn = (...args: Parameters<typeof actual.spawn>) => {
    events.push(`spawn ${String(args[0]).split('/').pop()}`);
    return actual.spawn(...args);
  };
  return { ...actual, spawn };
});

vi.mock('which', async (importOriginal) => {
  const actual = (await importOriginal<{ default: typeof import('which') }>()).default;
  const sync = ((cmd: string, opts: object) => {
    events.push(`lookup ${cmd}`);
    return actual.sync(cmd, opts as never);
  }) as typeof actual.sync;
  return { default: Object.assign((...a: Parameters<typeof actual>) => actual(...a), actual, { sync }) };
});

let bin: FakeBinDir;
beforeEach(() => {
  bin = createFakeBinDir();
  events.length = 0;
});
afterEach(() => {
  bin.remove();
});

describe('detectRuntimes start order', () => {
  it('starts a wrapper script as soon as it is found, compiled binaries after every lookup, slowest first', async () => {
    bin.add('python3', 'echo Python 3.12.1');
    bin.add('ruby', 'echo ruby 3.3.0');
    // Real executables (not `#!`): node itself, reached through links.
    symlinkSync(process.execPath, `${bin.dir}/node`);
    symlinkSync(process.execPath, `${bin.dir}/perl`);

    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });

    expect(found.map((r) => r.name)).toEqual(['python', 'node', 'ruby', 'perl']);
    const relevant = events.filter((e) => !e.startsWith('lookup bash') && !e.startsWith('lookup sh'));
    expect(relevant).toEqual([
      'lookup python3',
      'spawn python3',
      'lookup node',
      'lookup ruby',
      'spawn ruby',
      'lookup go',
      'lookup java',
      'lookup Rscript',
      'lookup perl',
      // the binaries, in PROBE_COST_ORDER: node before perl
      'spawn node',
      'spawn perl',
    ]);
  });
});

describe('probe start order of compiled binaries (likely slowest first)', () => {
  const at = (name: string, path = `/usr/bin/${name}`): Located => {
    const candidate = RUNTIME_CANDIDATES.find((c) => c.name === name);
    if (!candidate) throw new Error(name);
    return { candidate, path };
  };

  it('orders by typical probe cost and leaves its input alone', () => {
    const located = ['shell', 'python', 'node', 'java', 'perl'].map((n) => at(n));
    expect(probeStartOrder(located).map((l) => l.candidate.name)).toEqual(['java', 'python', 'node', 'perl', 'shell']);
    expect(located.map((l) => l.candidate.name)).toEqual(['shell', 'python', 'node', 'java', 'perl']);
  });

  it('tells a `#!` script from a binary, and a missing file from both', () => {
    expect(isScript(bin.add('python3', 'echo Python 3.12.1'))).toBe(true);
    expect(isScript(process.execPath)).toBe(false);
    expect(isScript(`${bin.dir}/absent`)).toBe(false);
  });

  it('reports results in candidate order whatever order the probes started and finished in', async () => {
    bin.add('perl', '/bin/sleep 0.3; echo "This is perl 5, version 36, subversion 0 (v5.36.0)"');
    bin.add('node', 'echo v20.11.0');
    bin.add('python3', '/bin/sleep 0.1; echo Python 3.12.1');
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(found.map((r) => [r.name, r.version])).toEqual([
      ['python', '3.12.1'],
      ['node', '20.11.0'],
      ['perl', '5.36.0'],
    ]);
  });
});
