/**
 * Reading an action's stdout/stderr without one allocation per read (issue 18).
 *
 * A child's stdio pipe is a `net.Socket` whose every read gets a fresh 64 KiB backing store,
 * freed only when V8 collects the Buffer — with 500 MB of output that is ~8 000 allocations and
 * up to the external-memory GC threshold (≈ 64 MiB) of dead buffers resident at a time, even
 * though at most `max_stdout_bytes` is kept. Node's public `onread` option (`net.Socket`,
 * since v12) reads into one caller-supplied buffer instead; the child's socket is created by
 * `child_process`, so its handle is handed to a new `net.Socket` built with `onread` (the same
 * construction `child_process` itself uses, plus `onread`). All readers share ONE buffer: reads
 * are delivered one at a time on the event loop and the callback copies what it keeps
 * (BoundedCollector) before returning.
 *
 * Anything that is not a libuv-backed socket (a test's PassThrough, a Node without
 * `useUserBuffer`) gets `null` and is read with 'data' events as before.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';

/**
 * Size of the shared read buffer: a read returns what the socket holds up to this size (a unix
 * stream socket buffers ~208 KiB by default, net.core.wmem_default), so fewer, larger reads
 * than libuv's 64 KiB suggestion when the child writes faster than we are scheduled.
 */
export const PIPE_READ_BUFFER_BYTES = 256 * 1024;

let shared: Buffer | null = null;

interface StreamHandle {
  useUserBuffer?: unknown;
  readStop?: () => number;
}

interface HandleOwner {
  _handle?: StreamHandle | null;
}

/**
 * Moves the OS handle of `stream` (a child's stdout/stderr just returned by `spawn`, before the
 * event loop ran) to a socket that calls `onChunk(view)` per read; `view` is valid only during
 * the call. The old stream is detached and destroyed (so `ChildProcess` 'close' still fires).
 * Returns the new stream ('end', 'error', 'close', `destroy()` as usual) or null.
 */
export function adoptPipeWithSharedBuffer(stream: Readable, onChunk: (view: Buffer) => void): Readable | null {
  if (!(stream instanceof net.Socket)) return null;
  const owner = stream as unknown as HandleOwner;
  const handle = owner._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function' || stream.destroyed || stream.readableLength > 0) return null;
  shared ??= Buffer.allocUnsafeSlow(PIPE_READ_BUFFER_BYTES);
  owner._handle = null;
  stream.destroy();
  const adopted = new net.Socket({
    handle,
    readable: true,
    writable: false,
    onread: {
      buffer: shared,
      callback: (nread: number, buf: Buffer) => {
        onChunk(buf.subarray(0, nread));
        return true;
      },
    },
  } as net.SocketConstructorOpts & { handle: unknown });
  return adopted;
}
