/**
 * File-backed copy of one output stream (spec 03 §9 `shared_file` backend): the same bounded
 * bytes the collector keeps, appended as they arrive. The adapter chooses the path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeIoError } from './failures';

/** The sinks of one run's two streams; either may be absent. */
export interface OutputSinks {
  stdout?: OutputSink | null;
  stderr?: OutputSink | null;
}

export interface OutputSink {
  write(chunk: Buffer): void;
  /** The truncation notice (spec 06 §2.8), once; sinks without it get it through `write`. */
  writeNotice?(notice: Buffer): void;
  /** Flush and close; rejects when a write or the close failed (upstream "seal"). */
  seal(): Promise<void>;
  /** Close without caring about errors (capture was aborted). */
  abandon(): Promise<void>;
  /** A write already failed (→ `logs_incomplete`). */
  readonly failed: boolean;
}

/**
 * A write stream over an open `fd` (closed with the stream) that reports errors to `onError`,
 * and a promise that settles on its 'close'. The promise listens from the start: a write error
 * closes the stream early, before anyone asks to end it.
 */
export function fdWriteStream(fd: number, onError: (e: Error) => void): { stream: fs.WriteStream; closed: Promise<void> } {
  const stream = fs.createWriteStream('', { fd, autoClose: true });
  stream.on('error', onError);
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  return { stream, closed };
}

/**
 * The file (and its directory) is created on the first byte written: most trivial actions print
 * nothing on stderr, and a mkdir + two opens per execution were ~12 % of the agent's CPU at high
 * throughput (npm run bench). A stream that stays empty leaves no file, which is also what the
 * result says (`stderr_log` only when stderr is non-blank).
 */
export function openLogFileSink(filePath: string): OutputSink {
  let stream: fs.WriteStream | null = null;
  let closed: Promise<void> = Promise.resolve();
  let error: Error | null = null;
  let ended = false;
  const open = (): fs.WriteStream | null => {
    try {
      fs.mkdirSync(path.dirname(filePath), { recursive: true });
      const fd = fs.openSync(filePath, 'w', 0o640);
      const opened = fdWriteStream(fd, (e) => {
        error ??= e;
      });
      closed = opened.closed;
      return opened.stream;
    } catch (e) {
      error ??= new Error(`Failed to create log artifact file '${filePath}': ${describeIoError(e)}`);
      return null;
    }
  };
  const end = async (): Promise<void> => {
    if (!ended) {
      ended = true;
      stream?.end();
    }
    await closed;
  };
  return {
    write(chunk: Buffer): void {
      if (error !== null || ended || chunk.length === 0) return;
      stream ??= open();
      stream?.write(chunk);
    },
    async seal(): Promise<void> {
      await end();
      if (error !== null) throw error;
    },
    async abandon(): Promise<void> {
      await end();
    },
    get failed(): boolean {
      return error !== null;
    },
  };
}
