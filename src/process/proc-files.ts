/**
 * Reads and writes of small /proc and cgroup files through descriptors kept open (issue 18).
 *
 * Around every action's spawn the agent writes its own `oom_score_adj` twice and reads the
 * cgroup's OOM-kill counter once (oom.ts). `readFileSync`/`writeFileSync` open, (stat,) read or
 * write and close each time: ~11 syscalls per execution, each open walking /proc or cgroupfs.
 * These files are generated on every access (seq_file / single-value handlers), so a positional
 * read at offset 0 of a kept descriptor returns the current content and a write to it sets the
 * value: 3 syscalls per execution. A descriptor that fails is closed and the path opened once
 * more (a fresh open sees a re-created file); what still fails throws, as before.
 *
 * Only pseudo-files belong here: data volumes must not be pinned by a descriptor (they may be
 * remounted read-only under the agent, see completion-journal.ts).
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

/** A content larger than this is read the plain way (these files are a few hundred bytes). */
const READ_BUFFER_BYTES = 4096;

export interface ProcFileIo {
  read(path: string): string;
  write(path: string, value: string): void;
}

export function createKeptProcFileIo(): ProcFileIo {
  const fds = new Map<string, number>();
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  const fdFor = (path: string, flags: 'r' | 'r+'): number => {
    const key = `${flags}:${path}`;
    let fd = fds.get(key);
    if (fd === undefined) {
      fd = openSync(path, flags);
      fds.set(key, fd);
    }
    return fd;
  };
  const forget = (path: string, flags: 'r' | 'r+'): void => {
    const key = `${flags}:${path}`;
    const fd = fds.get(key);
    if (fd === undefined) return;
    fds.delete(key);
    try {
      closeSync(fd);
    } catch {
      /* already unusable */
    }
  };
  /** `op` on the kept descriptor; on failure once more on a fresh one, then the error. */
  const withFd = <T>(path: string, flags: 'r' | 'r+', op: (fd: number) => T): T => {
    try {
      return op(fdFor(path, flags));
    } catch {
      forget(path, flags);
      return op(fdFor(path, flags));
    }
  };

  return {
    read(path) {
      const n = withFd(path, 'r', (fd) => readSync(fd, buffer, 0, READ_BUFFER_BYTES, 0));
      if (n < READ_BUFFER_BYTES) return buffer.toString('utf8', 0, n);
      return readFileSync(path, 'utf8');
    },
    write(path, value) {
      withFd(path, 'r+', (fd) => writeSync(fd, value, 0));
    },
  };
}
