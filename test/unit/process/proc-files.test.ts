import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeptProcFileIo } from '../../../src/process/proc-files';

const SELF = '/proc/self/oom_score_adj';
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('kept /proc file descriptors', () => {
  const start = readFileSync(SELF, 'utf8').trim();
  const dirs: string[] = [];
  afterEach(() => {
    writeFileSync(SELF, start);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads and sets oom_score_adj through one descriptor, seeing each new value', () => {
    const io = createKeptProcFileIo();
    expect(io.read(SELF).trim()).toBe(start);
    const before = openFds();
    for (const v of ['700', '900', start]) {
      io.write(SELF, v);
      expect(io.read(SELF).trim()).toBe(v);
      expect(readFileSync(SELF, 'utf8').trim()).toBe(v);
    }
    // write opened its descriptor once ('r+'), read had its own already: one more in all.
    expect(openFds()).toBe(before + 1);
    for (let i = 0; i < 50; i++) io.write(SELF, start);
    expect(openFds()).toBe(before + 1);
  });

  it('reads the current content of a generated file at every call (cgroup counters)', () => {
    const io = createKeptProcFileIo();
    const a = io.read('/proc/self/stat').split(' ')[0];
    expect(a).toBe(String(process.pid));
    const n1 = io.read('/proc/self/status');
    expect(n1).toMatch(/^Name:/);
    expect(io.read('/proc/self/status')).toMatch(/VmRSS:/);
  });

  it('throws for a missing file and opens it once it exists (nothing cached after a failure)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'proc-files-'));
    dirs.push(dir);
    const io = createKeptProcFileIo();
    const f = join(dir, 'memory.events');
    expect(() => io.read(f)).toThrow(/ENOENT/);
    writeFileSync(f, 'oom 0\noom_kill 3\n');
    expect(io.read(f)).toBe('oom 0\noom_kill 3\n');
  });

  it('falls back to a whole-file read past its 4 KiB buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'proc-files-'));
    dirs.push(dir);
    const f = join(dir, 'big');
    const text = `${'x'.repeat(5000)}\noom_kill 1\n`;
    writeFileSync(f, text);
    expect(createKeptProcFileIo().read(f)).toBe(text);
  });
});
