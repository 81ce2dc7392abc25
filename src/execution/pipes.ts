/**
 * The action's pipes (spec 03 §2.2, §4.1): writing the parameter document to stdin and the
 * bounded, abortable capture of stdout/stderr.
 */
import type { Readable, Writable } from 'node:stream';
import { describeIoError } from './failures';
import { BoundedCollector, type StreamName } from './output';
import { adoptPipeWithSharedBuffer } from './pipe-reader';

/** Rust's io::Error text for a failed pipe write (EPIPE or a pipe Node already closed). */
function stdinErrorText(e: unknown): string {
  return isBrokenPipe(e) ? 'Broken pipe (os error 32)' : describeIoError(e);
}

function writeChunk(stdin: Writable, data: string): Promise<unknown> {
  return new Promise((resolve) => {
    try {
      stdin.write(data, (err) => resolve(err ?? null));
    } catch (e) {
      resolve(e);
    }
  });
}

/** Linux default pipe capacity (16 pages). */
const PIPE_CAPACITY_BYTES = 65_536;

function isBrokenPipe(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

/** spec 03 §2.2: document, then `\n`, then EOF; returns the error text or null. */
export async function writeParameters(stdin: Writable, content: string | null): Promise<string | null> {
  let error: string | null = null;
  if (content !== null) {
    const e1 = await writeChunk(stdin, content);
    const e2 = e1 ? null : await writeChunk(stdin, '\n');
    const failure = e1 ?? e2;
    // Node's spawn returns milliseconds later than Rust's, so a fast action that never reads
    // stdin has often exited before the first byte is written. Upstream writes right after
    // exec and wins that race whenever the document fits in the pipe buffer; emulate that
    // outcome instead of reporting a broken pipe upstream would (practically) never see.
    const fitsPipe = Buffer.byteLength(content, 'utf8') + 1 <= PIPE_CAPACITY_BYTES;
    if (failure && !(fitsPipe && isBrokenPipe(failure))) {
      error = e1
        ? `Failed to write parameters to stdin: ${stdinErrorText(e1)}`
        : `Failed to write newline to stdin: ${stdinErrorText(e2)}`;
    }
  }
  stdin.end();
  return error;
}

/**
 * A stream switches to the shared read buffer once it has delivered this much (issue 18): the
 * switch costs a socket object, which most actions (a few lines of output) need not pay.
 */
export const ADOPT_AFTER_BYTES = 1024 * 1024;

export class StreamCapture {
  readonly collector: BoundedCollector;
  ended = false;
  incomplete = false;
  private stopped = false;
  private stream: Readable;
  private receivedBytes = 0;
  private resolveDone: () => void = () => undefined;
  private unwatch: () => void = () => undefined;
  readonly done: Promise<void>;

  constructor(
    stream: Readable,
    name: StreamName,
    maxBytes: number,
    private readonly onKept: (chunk: Buffer, isNotice: boolean) => void,
  ) {
    this.collector = new BoundedCollector(maxBytes, name);
    this.stream = stream;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.watch(stream);
    stream.on('data', this.onData);
  }

  private readonly onChunk = (chunk: Buffer): void => {
    if (this.stopped) return;
    for (const kept of this.collector.write(chunk)) this.onKept(kept, kept === this.collector.notice);
  };

  private readonly onData = (chunk: Buffer): void => {
    this.onChunk(chunk);
    this.receivedBytes += chunk.length;
    if (this.receivedBytes >= ADOPT_AFTER_BYTES && !this.stopped) this.switchToSharedBuffer();
  };

  private switchToSharedBuffer(): void {
    const old = this.stream;
    const adopted = adoptPipeWithSharedBuffer(old, this.onChunk);
    // Not a libuv pipe, or data is buffered: stay on 'data' events, without counting further.
    if (adopted === null) {
      this.receivedBytes = -Infinity;
      return;
    }
    // The old stream is destroyed but emits 'close' only on the next tick: detach first.
    old.off('data', this.onData);
    this.unwatch();
    this.stream = adopted;
    this.watch(adopted);
  }

  private watch(stream: Readable): void {
    const onEnd = (): void => {
      this.ended = true;
      this.resolveDone();
    };
    const onError = (): void => {
      this.incomplete = true;
      this.resolveDone();
    };
    const onClose = (): void => this.resolveDone();
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
    this.unwatch = () => {
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
  }

  /** Abort capture: upstream drops the reader, so the pipe's read end is closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.ended) this.incomplete = true;
    this.stream.destroy();
  }
}
