/**
 * File-backed copy of one output stream (spec 03 §9 `shared_file` backend): the same bounded
 * bytes the collector keeps, appended as they arrive. The adapter chooses the path; opening
 * happens before spawn so a bad path fails context preparation, not the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeIoError, PrepareFailure } from './failures';

export interface OutputSink {
  write(chunk: Buffer): void;
  /** Flush and close; rejects when a write or the close failed (upstream "seal"). */
  seal(): Promise<void>;
  /** Close without caring about errors (capture was aborted). */
  abandon(): Promise<void>;
  /** A write already failed (→ `logs_incomplete`). */
  readonly failed: boolean;
}

export function openLogFileSink(filePath: string): OutputSink {
  let fd: number;
  try {
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    fd = fs.openSync(filePath, 'w', 0o640);
  } catch (e) {
    throw new PrepareFailure(`Internal error: Failed to create log artifact file '${filePath}': ${describeIoError(e)}`);
  }
  const stream = fs.createWriteStream('', { fd, autoClose: true });
  let error: Error | null = null;
  stream.on('error', (e) => {
    error ??= e;
  });
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  let ended = false;
  const end = async (): Promise<void> => {
    if (!ended) {
      ended = true;
      stream.end();
    }
    await closed;
  };
  return {
    write(chunk: Buffer): void {
      if (error === null && !ended) stream.write(chunk);
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
