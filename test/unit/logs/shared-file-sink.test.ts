import { chmodSync, closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSharedLogFile, SharedFileTarget } from '../../../src/logs/shared-file-sink';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'attune-shared-file-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

describe('SharedFileTarget', () => {
  it('a stream without output leaves an empty 0664 file and closes its fd', async () => {
    const path = join(dir, 'pack/act/stderr/log/v1.txt');
    const fd = createSharedLogFile(path);
    const target = new SharedFileTarget(fd);
    await target.end();
    expect(isOpen(fd)).toBe(false);
    expect(statSync(path).size).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o664);
    expect(target.failure).toBeNull();
    await target.end(); // idempotent
  });

  it('an empty stream whose fd cannot be closed reports the error as its failure', async () => {
    const fd = createSharedLogFile(join(dir, 'gone.txt'));
    const target = new SharedFileTarget(fd);
    closeSync(fd); // someone closed it already: close(2) fails with EBADF
    await target.end();
    expect((target.failure as NodeJS.ErrnoException | null)?.code).toBe('EBADF');
  });

  it('appends chunks in order, ignores writes after end, and closes the fd', async () => {
    const path = join(dir, 'out.txt');
    const fd = createSharedLogFile(path);
    const target = new SharedFileTarget(fd);
    target.append(Buffer.from('one\n'));
    target.append(Buffer.from('two\n'));
    await target.end();
    target.append(Buffer.from('late\n'));
    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\n');
    expect(isOpen(fd)).toBe(false);
  });

  it('a failing write is reported as its failure and end still settles', async () => {
    const path = join(dir, 'ro.txt');
    createSharedLogFile(path);
    chmodSync(path, 0o444);
    const fd = openSync(path, 'r'); // not writable: the first append fails with EBADF
    const target = new SharedFileTarget(fd);
    target.append(Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 20));
    target.append(Buffer.from('y')); // after the failure: dropped
    await target.end();
    expect(target.failure).toBeInstanceOf(Error);
  });
});
