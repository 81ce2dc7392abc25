/**
 * `shared_file` log stream target (spec 06 §2.5) for stream-sink.ts. The file is created (empty,
 * 0664) before the action starts, so a live view can follow it; every chunk is one append on a
 * file descriptor kept open for the run (upstream re-opens, flocks and fdatasyncs per chunk —
 * the API's seal fsyncs the file anyway).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fdWriteStream } from '../execution/log-sink';
import type { ByteTarget } from './stream-sink';

const DIR_MODE = 0o2775;
const FILE_MODE = 0o664;

/** Directories known to exist (created or seen by this process): one mkdir per action, not per run. */
const knownDirs = new Set<string>();

/** spec 06 §2.5: parents created under the root with mode 2775, file truncated to 0 and chmod 0664. Returns the open fd. */
export function createSharedLogFile(absPath: string): number {
  const dir = path.dirname(absPath);
  const cached = knownDirs.has(dir);
  if (!cached) ensureDir(dir);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = fs.openSync(absPath, flags, FILE_MODE);
  } catch (e) {
    // Someone removed the directory since we created it: create it again, once.
    if (!cached || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    knownDirs.delete(dir);
    ensureDir(dir);
    fd = fs.openSync(absPath, flags, FILE_MODE);
  }
  try {
    fs.fchmodSync(fd, FILE_MODE);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

function ensureDir(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true });
  if (first !== undefined) {
    // chmod each directory this call created, top down (mkdir's mode is cut by the umask).
    for (let d = dir; d.length >= first.length && d !== path.dirname(d); d = path.dirname(d)) fs.chmodSync(d, DIR_MODE);
  }
  knownDirs.add(dir);
}

/** Forget cached directories (an operator may have removed them). */
export function forgetKnownDirs(): void {
  knownDirs.clear();
}

/**
 * The open log file of a `shared_file` stream: one append per chunk on the fd kept for the run.
 * The write stream is made on the first chunk: many streams stay empty (stderr of most actions,
 * both of a quiet one), and a stream made and ended without a write cost ~45 µs of CPU more than
 * closing the fd (Node 20 and 24, tmpfs; issue 18). The fd of a stream that stayed empty is
 * closed synchronously, like it was opened (createSharedLogFile): nothing was written, so there
 * is nothing to flush, and a close through libuv's thread pool costs ~85 µs of CPU (a thread
 * woken and put back to sleep, microbenchmark on Node 24) against ~5 µs for close(2) itself.
 * A stream that was written to is ended through its WriteStream, asynchronously (a close after
 * writes on a network volume can wait for the server to flush).
 */
export class SharedFileTarget implements ByteTarget {
  /** Made on the first chunk (fdWriteStream). */
  private opened: { stream: fs.WriteStream; closed: Promise<void> } | null = null;
  private closed: Promise<void> | null = null;
  private error: Error | null = null;

  constructor(private readonly fd: number) {}

  get failure(): Error | null {
    return this.error;
  }

  append(bytes: Buffer): void {
    if (this.error !== null || this.closed !== null) return;
    this.opened ??= fdWriteStream(this.fd, (e) => {
      this.error ??= e;
    });
    this.opened.stream.write(bytes);
  }

  end(): Promise<void> {
    this.closed ??= this.opened === null ? this.closeFd() : endStream(this.opened);
    return this.closed;
  }

  private closeFd(): Promise<void> {
    try {
      fs.closeSync(this.fd);
    } catch (e) {
      this.error ??= e as Error;
    }
    return Promise.resolve();
  }
}

function endStream(opened: { stream: fs.WriteStream; closed: Promise<void> }): Promise<void> {
  opened.stream.end();
  return opened.closed;
}
