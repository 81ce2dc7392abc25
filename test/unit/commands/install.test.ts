import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runInstall } from '../../../src/commands/install';
import { AgentError, UsageError } from '../../../src/errors';

function sink(): { write(s: string): boolean; text(): string } {
  let buf = '';
  return {
    write(s: string) {
      buf += s;
      return true;
    },
    text: () => buf,
  };
}

let root: string;
let src: string;
let dest: string;

async function makeSource(): Promise<void> {
  await fs.mkdir(join(src, 'lib'), { recursive: true });
  await fs.writeFile(join(src, 'attune-agent'), '#!fake agent v1\n' + 'x'.repeat(4096));
  await fs.chmod(join(src, 'attune-agent'), 0o755);
  await fs.writeFile(join(src, 'lib', 'ld-linux-x86-64.so.2'), 'loader v1');
  await fs.chmod(join(src, 'lib', 'ld-linux-x86-64.so.2'), 0o755);
  await fs.writeFile(join(src, 'lib', 'libc.so.6'), 'libc v1');
  await fs.chmod(join(src, 'lib', 'libc.so.6'), 0o644);
  await fs.writeFile(join(src, 'lib', 'libstdc++.so.6.0.30'), 'libstdc++ v1');
  await fs.chmod(join(src, 'lib', 'libstdc++.so.6.0.30'), 0o640);
  await fs.symlink('libstdc++.so.6.0.30', join(src, 'lib', 'libstdc++.so.6'));
}

const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o7777;
const ino = async (p: string): Promise<number> => (await fs.stat(p)).ino;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'attune-install-'));
  src = join(root, 'dist');
  dest = join(root, 'agent-bin');
  await makeSource();
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('runInstall', () => {
  it('copies the executable and lib/ into a new directory with their modes', async () => {
    const out = sink();
    const report = await runInstall({ to: dest, from: src, stderr: out });

    expect(await fs.readFile(join(dest, 'attune-agent'), 'utf8')).toBe(await fs.readFile(join(src, 'attune-agent'), 'utf8'));
    expect(await fs.readFile(join(dest, 'lib', 'libc.so.6'), 'utf8')).toBe('libc v1');
    expect(await mode(join(dest, 'attune-agent'))).toBe(0o755);
    expect(await mode(join(dest, 'lib', 'ld-linux-x86-64.so.2'))).toBe(0o755);
    expect(await mode(join(dest, 'lib', 'libc.so.6'))).toBe(0o644);
    expect(await mode(join(dest, 'lib', 'libstdc++.so.6.0.30'))).toBe(0o640);
    expect(await fs.readlink(join(dest, 'lib', 'libstdc++.so.6'))).toBe('libstdc++.so.6.0.30');
    expect(report.hasLib).toBe(true);
    expect(report.changed).toBe(5);
    // lib/ is listed before the executable: the executable's loader lives in lib/ (spec 05 §17).
    expect(report.entries.map((e) => e.path).at(-1)).toBe('attune-agent');
    expect(out.text()).toContain(`installed attune-agent from ${src} into ${dest}`);
    // No staging directory is left behind.
    expect((await fs.readdir(dest)).sort()).toEqual(['attune-agent', 'lib']);
  });

  it('copies nothing on a second run over an up-to-date target', async () => {
    await runInstall({ to: dest, from: src, stderr: sink() });
    const binIno = await ino(join(dest, 'attune-agent'));
    const libIno = await ino(join(dest, 'lib'));
    const libcIno = await ino(join(dest, 'lib', 'libc.so.6'));

    const out = sink();
    const report = await runInstall({ to: dest, from: src, stderr: out });

    expect(report.changed).toBe(0);
    expect(report.entries.every((e) => e.action === 'unchanged')).toBe(true);
    expect(await ino(join(dest, 'attune-agent'))).toBe(binIno);
    expect(await ino(join(dest, 'lib'))).toBe(libIno);
    expect(await ino(join(dest, 'lib', 'libc.so.6'))).toBe(libcIno);
    expect(out.text()).toContain('is up to date');
  });

  it('replaces a changed executable by rename, so an open handle still reads the old file', async () => {
    await runInstall({ to: dest, from: src, stderr: sink() });
    const oldHandle = await fs.open(join(dest, 'attune-agent'), 'r');
    try {
      const oldIno = await ino(join(dest, 'attune-agent'));
      await fs.writeFile(join(src, 'attune-agent'), '#!fake agent v2\n' + 'y'.repeat(4096));

      const report = await runInstall({ to: dest, from: src, stderr: sink() });

      expect(report.entries.find((e) => e.path === 'attune-agent')?.action).toBe('copied');
      expect(report.changed).toBe(1);
      expect(await fs.readFile(join(dest, 'attune-agent'), 'utf8')).toMatch(/^#!fake agent v2/);
      expect(await ino(join(dest, 'attune-agent'))).not.toBe(oldIno);
      expect(await mode(join(dest, 'attune-agent'))).toBe(0o755);
      const { buffer } = await oldHandle.read(Buffer.alloc(16), 0, 16, 0);
      expect(buffer.toString('utf8')).toBe('#!fake agent v1\n');
    } finally {
      await oldHandle.close();
    }
  });

  it('detects a same-size change by checksum and swaps lib/ as a whole', async () => {
    await runInstall({ to: dest, from: src, stderr: sink() });
    const libIno = await ino(join(dest, 'lib'));
    await fs.writeFile(join(src, 'lib', 'libc.so.6'), 'libc v2'); // same length as 'libc v1'

    const report = await runInstall({ to: dest, from: src, stderr: sink() });

    const byPath = Object.fromEntries(report.entries.map((e) => [e.path, e.action]));
    expect(byPath['lib/libc.so.6']).toBe('copied');
    expect(byPath['lib/ld-linux-x86-64.so.2']).toBe('unchanged');
    expect(byPath['attune-agent']).toBe('unchanged');
    expect(await fs.readFile(join(dest, 'lib', 'libc.so.6'), 'utf8')).toBe('libc v2');
    expect(await ino(join(dest, 'lib'))).not.toBe(libIno);
    expect(await mode(join(dest, 'lib', 'libc.so.6'))).toBe(0o644);
    expect((await fs.readdir(dest)).sort()).toEqual(['attune-agent', 'lib']);
  });

  it('removes files from lib/ that the new bundle no longer ships', async () => {
    await runInstall({ to: dest, from: src, stderr: sink() });
    await fs.writeFile(join(dest, 'lib', 'libatomic.so.1'), 'stale');

    const report = await runInstall({ to: dest, from: src, stderr: sink() });

    expect(report.entries).toContainEqual({ path: 'lib/libatomic.so.1', action: 'removed' });
    expect(await fs.readdir(join(dest, 'lib'))).not.toContain('libatomic.so.1');
  });

  it('fixes only the mode when the content already matches', async () => {
    await runInstall({ to: dest, from: src, stderr: sink() });
    await fs.chmod(join(dest, 'attune-agent'), 0o644);
    const binIno = await ino(join(dest, 'attune-agent'));

    const report = await runInstall({ to: dest, from: src, stderr: sink() });

    expect(report.entries.find((e) => e.path === 'attune-agent')?.action).toBe('mode-updated');
    expect(await mode(join(dest, 'attune-agent'))).toBe(0o755);
    expect(await ino(join(dest, 'attune-agent'))).toBe(binIno);
  });

  it('removes staging directories left by an interrupted run', async () => {
    await fs.mkdir(join(dest, '.install-0123456789ab', 'lib'), { recursive: true });

    await runInstall({ to: dest, from: src, stderr: sink() });

    expect((await fs.readdir(dest)).sort()).toEqual(['attune-agent', 'lib']);
  });

  it('installs the executable alone when the source has no lib/', async () => {
    await fs.rm(join(src, 'lib'), { recursive: true });
    const out = sink();

    const report = await runInstall({ to: dest, from: src, stderr: out });

    expect(report.hasLib).toBe(false);
    expect(await fs.readdir(dest)).toEqual(['attune-agent']);
    expect(out.text()).toContain('no lib/ beside');
  });

  it('defaults the source to the directory of the running executable', async () => {
    const report = await runInstall({ to: dest, execPath: join(src, 'attune-agent'), stderr: sink() });

    expect(report.sourceDir).toBe(src);
    expect(await fs.readFile(join(dest, 'lib', 'libc.so.6'), 'utf8')).toBe('libc v1');
  });

  it('refuses to run under plain node without --from', async () => {
    const err = await runInstall({ to: dest, execPath: '/usr/local/bin/node', stderr: sink() }).catch((e) => e);

    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('--from DIR');
    await expect(fs.stat(dest)).rejects.toThrow();
  });

  it('reports a missing agent executable in the source directory', async () => {
    await fs.rm(join(src, 'attune-agent'));

    const err = await runInstall({ to: dest, from: src, stderr: sink() }).catch((e) => e);

    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(join(src, 'attune-agent'));
  });

  it('refuses to install a directory onto itself', async () => {
    const err = await runInstall({ to: src, from: src, stderr: sink() }).catch((e) => e);

    expect(err).toBeInstanceOf(AgentError);
    expect((err as Error).message).toContain('same directory');
  });
});
