/**
 * One write(2) per batch of AMQP frames instead of one per frame (issue 18).
 *
 * amqplib's `Mux` moves frames from the channels' buffers to the socket in a loop, calling
 * `socket.write(frame)` once per frame; Node sends each at once, so a publish, its neighbours'
 * publishes and an ack queued in the same turn cost a `write(2)` each — on loopback every one
 * also runs the broker's receive path in the agent's syscall (strace of the agent at c=16: ~4
 * writes per execution to the broker). Corking the socket for the duration of one pass of that
 * loop hands the frames to Node as one `writev`. Order, flow control (`write()` still returns
 * false past the socket's high-water mark, and the Mux then waits for 'drain' as before) and
 * frame contents are unchanged.
 *
 * The Mux is reached through amqplib's connection object (`connection.muxer`, `.stream`), which
 * is not a public API: when the shape is not the one expected (another amqplib version), nothing
 * is changed and the caller is told so.
 */

interface MuxLike {
  _readIncoming: () => void;
}

interface CorkableStream {
  cork: () => void;
  uncork: () => void;
}

interface ConnectionInternals {
  connection?: { muxer?: unknown; stream?: unknown };
}

function isMux(m: unknown): m is MuxLike {
  return typeof m === 'object' && m !== null && typeof (m as MuxLike)._readIncoming === 'function';
}

function isCorkable(s: unknown): s is CorkableStream {
  return typeof s === 'object' && s !== null && typeof (s as CorkableStream).cork === 'function' && typeof (s as CorkableStream).uncork === 'function';
}

const PATCHED = Symbol('attune.frameWritesCoalesced');

/**
 * Make the connection's frame loop write through a corked socket. Returns true when the
 * connection now coalesces (or already did), false when amqplib's internals were not found.
 */
export function coalesceFrameWrites(model: unknown): boolean {
  const conn = (model as ConnectionInternals | null)?.connection;
  const mux = conn?.muxer;
  const stream = conn?.stream;
  if (!isMux(mux) || !isCorkable(stream)) return false;
  const marked = mux as MuxLike & { [PATCHED]?: true };
  if (marked[PATCHED]) return true;
  const pass = mux._readIncoming.bind(mux);
  // An own property shadows the prototype's method; the Mux's 'drain' handler and its scheduled
  // reads call `self._readIncoming()`, so every pass goes through here.
  mux._readIncoming = () => {
    stream.cork();
    try {
      pass();
    } finally {
      stream.uncork();
    }
  };
  marked[PATCHED] = true;
  return true;
}
