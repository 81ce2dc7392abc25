/**
 * `shared_file` log stream writer (spec 06 §2.5) behind the engine's OutputSink port. The file
 * is created (empty, 0664) before the action starts, so a live view can follow it; every chunk
 * is one append on a file descriptor kept open for the run (upstream re-opens, flocks and
 * fdatasyncs per chunk — the API's seal fsyncs the file anyway). Secret values are replaced on
 * the way in (stream-redactor.ts); the mirror sees the same redacted bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OutputSink } from '../execution/log-sink';
import type { RuntimeLogMirror } from './mirror';
import type { StreamRedactor } from './stream-redactor';

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

export interface SharedFileSinkOptions {
  fd: number;
  redactor: StreamRedactor | null;
  mirror: RuntimeLogMirror | null;
}

export class SharedFileSink implements OutputSink {
  private readonly stream: fs.WriteStream;
  private readonly closed: Promise<void>;
  private error: Error | null = null;
  private ended = false;
  /** The truncation notice was written (→ `seal?truncated=true`). */
  truncated = false;
  bytesWritten = 0;

  constructor(private readonly opts: SharedFileSinkOptions) {
    this.stream = fs.createWriteStream('', { fd: opts.fd, autoClose: true });
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
    this.closed = new Promise<void>((resolve) => this.stream.once('close', () => resolve()));
  }

  write(chunk: Buffer): void {
    if (this.ended) return;
    const bytes = this.opts.redactor ? this.opts.redactor.push(chunk) : chunk;
    this.append(bytes);
    this.opts.mirror?.write(bytes);
  }

  writeNotice(notice: Buffer): void {
    if (this.ended) return;
    this.flushRedactor();
    this.truncated = true;
    this.append(notice);
    this.opts.mirror?.cap();
  }

  async seal(): Promise<void> {
    await this.end();
  }

  async abandon(): Promise<void> {
    await this.end();
  }

  get failed(): boolean {
    return this.error !== null;
  }

  get failure(): Error | null {
    return this.error;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0 || this.error !== null) return;
    this.bytesWritten += bytes.length;
    this.stream.write(bytes);
  }

  private flushRedactor(): void {
    const rest = this.opts.redactor?.flush();
    if (rest && rest.length > 0) {
      this.append(rest);
      this.opts.mirror?.write(rest);
    }
  }

  /** Idempotent; never rejects (a failed write is reported through `failed`). */
  private async end(): Promise<void> {
    if (!this.ended) {
      this.flushRedactor();
      this.opts.mirror?.end();
      this.ended = true;
      this.stream.end();
    }
    await this.closed;
  }
}
