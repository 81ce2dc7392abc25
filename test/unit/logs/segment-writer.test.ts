import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, putLogSegment, WorkerTokenProvider } from '../../../src/api';
import { SegmentedLogWriter, segmentRetryDelayMs, type SegmentPolicy } from '../../../src/logs/segment-writer';
import { startFakeApi, type FakeApi } from '../../support/fake-api';

let api: FakeApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

const SEG = /^\/api\/v1\/internal\/logs\/7\/segments\/(\d+)$/;
const policy = (over: Partial<SegmentPolicy> = {}): SegmentPolicy => ({
  initialBytes: 64 * 1024,
  maxBytes: 1024 * 1024,
  flushIntervalMs: 500,
  retryMaxAttempts: 5,
  attemptTimeoutMs: 10_000,
  initialBackoffMs: 10,
  maxBackoffMs: 40,
  ...over,
});

/** A fake that accepts every segment (201) and keeps the bodies by sequence. */
async function setup(p: SegmentPolicy): Promise<{ api: FakeApi; writer: SegmentedLogWriter; bodies: Map<number, Buffer> }> {
  api = await startFakeApi({ jwtSecret: 's' });
  const bodies = new Map<number, Buffer>();
  api.route('PUT', SEG, (ctx) => {
    bodies.set(Number(ctx.params[0]), ctx.body);
    return { status: 201, body: {} };
  });
  const tokens = new WorkerTokenProvider({ secret: 's' });
  tokens.setWorkerId(1);
  const client = new ApiClient({ baseUrl: api.url, tokens });
  const writer = new SegmentedLogWriter(p, (seq, bytes, opts) => putLogSegment(client, 7, seq, bytes, opts));
  return { api, writer, bodies };
}

const segmentPuts = (a: FakeApi) => a.requestsTo(SEG).map((r) => ({ seq: Number(SEG.exec(r.path)?.[1]), size: r.body?.length ?? -1, status: r.status }));

describe('SegmentedLogWriter (spec 06 §2.6)', () => {
  it('cuts 64 KiB, 128 KiB, then the rest of a 300 KiB burst at seal, with sequences 0, 1, 2 and the exact bytes', async () => {
    const { api: a, writer, bodies } = await setup(policy());
    const data = Buffer.alloc(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    for (let off = 0; off < data.length; off += 16 * 1024) writer.append(data.subarray(off, off + 16 * 1024));
    await writer.end();
    await writer.drained();
    expect(writer.failure).toBeNull();
    const puts = segmentPuts(a);
    expect(puts.map((p) => p.seq)).toEqual(puts.map((_, i) => i));
    expect(puts[0]?.size).toBe(65_536);
    expect(puts[1]?.size).toBe(131_072);
    expect(puts.reduce((n, p) => n + p.size, 0)).toBe(data.length);
    expect(Buffer.concat([...bodies.keys()].sort((x, y) => x - y).map((k) => bodies.get(k) as Buffer)).equals(data)).toBe(true);
    expect(writer.committedBytes).toBe(data.length);
  });

  it('commits a small buffer after flush_interval_ms without waiting for the seal', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 100 }));
    writer.append(Buffer.from('out\n'));
    await new Promise((r) => setTimeout(r, 400));
    expect(segmentPuts(a)).toEqual([{ seq: 0, size: 4, status: 201 }]);
    writer.append(Buffer.from('more\n'));
    await writer.end();
    await writer.drained();
    expect(segmentPuts(a).map((p) => [p.seq, p.size])).toEqual([
      [0, 4],
      [1, 5],
    ]);
  });

  it('retries 503 with the same sequence and bytes, then goes on with the next sequence', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 50 }));
    a.inject({ method: 'PUT', path: SEG, status: 503, times: 2 });
    writer.append(Buffer.from('abc'));
    await new Promise((r) => setTimeout(r, 300));
    writer.append(Buffer.from('de'));
    await writer.end();
    await writer.drained();
    const puts = a.requestsTo(SEG);
    expect(puts.map((r) => [r.path.endsWith('/0'), r.status, r.body?.toString()])).toEqual([
      [true, 503, 'abc'],
      [true, 503, 'abc'],
      [true, 201, 'abc'],
      [false, 201, 'de'],
    ]);
    expect(writer.failure).toBeNull();
  });

  it('a 409 is not retried: the failure is latched and later bytes are not sent', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 20 }));
    a.inject({ method: 'PUT', path: SEG, status: 409 });
    writer.append(Buffer.from('first'));
    await writer.drained().then(() => undefined, () => undefined);
    await new Promise((r) => setTimeout(r, 100));
    writer.append(Buffer.from('second'));
    await writer.end();
    await writer.drained();
    expect(a.requestsTo(SEG).map((r) => r.status)).toEqual([409]);
    expect(writer.failure?.message).toMatch(/^log segment writer failed: .*409/);
  });

  it('gives up after retry_max_attempts on a retryable error (connection closed mid-body)', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 20, retryMaxAttempts: 3 }));
    a.inject({ method: 'PUT', path: SEG, close: true, times: 10 });
    writer.append(Buffer.from('x'.repeat(1000)));
    await writer.end();
    await writer.drained();
    expect(a.requestsTo(SEG)).toHaveLength(3);
    expect(writer.failure).not.toBeNull();
  });

  it('cuts each attempt at retry_attempt_timeout_ms and retries it (a slow API)', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 20, attemptTimeoutMs: 200 }));
    a.inject({ method: 'PUT', path: SEG, delayMs: 1_000 });
    writer.append(Buffer.from('slow'));
    await writer.end();
    const t0 = Date.now();
    await writer.drained();
    expect(Date.now() - t0).toBeLessThan(900);
    expect(writer.failure).toBeNull();
    expect(writer.committedBytes).toBe(4);
  });

  it('never blocks the producer: past the bound the rest is dropped and the kept bytes are an exact prefix', async () => {
    const { api: a, writer, bodies } = await setup(policy({ initialBytes: 1024, maxBytes: 4096, flushIntervalMs: 20 }));
    a.inject({ method: 'PUT', path: SEG, delayMs: 300 });
    const data = Buffer.from(Array.from({ length: 20_000 }, (_, i) => 97 + (i % 26)));
    const t0 = Date.now();
    for (let off = 0; off < data.length; off += 1000) writer.append(data.subarray(off, off + 1000));
    expect(Date.now() - t0).toBeLessThan(100);
    await writer.end();
    await writer.drained();
    expect(writer.overflowed).toBe(true);
    const sent = Buffer.concat([...bodies.keys()].sort((x, y) => x - y).map((k) => bodies.get(k) as Buffer));
    expect(sent.length + writer.droppedBytes).toBe(data.length);
    expect(sent.equals(data.subarray(0, sent.length))).toBe(true);
    // One segment in flight (1024) + at most maxBytes buffered behind it.
    expect(sent.length).toBeLessThanOrEqual(1024 + 4096);
  });

  it('abort drops the buffer and the commit in flight; drained() resolves', async () => {
    const { api: a, writer } = await setup(policy({ flushIntervalMs: 10 }));
    a.inject({ method: 'PUT', path: SEG, delayMs: 2_000 });
    writer.append(Buffer.from('zzz'));
    await new Promise((r) => setTimeout(r, 50));
    writer.abort();
    await writer.drained();
    expect(writer.failure?.message).toBe('log segment writer aborted');
  });
});

describe('segmentRetryDelayMs', () => {
  it('is a whole number in [ceil(c/2), c] with c = min(initial·2^(k−1), max): ≈100, 200, 400, 800 ms', () => {
    for (const [k, c] of [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [6, 2000],
    ] as const) {
      expect(segmentRetryDelayMs(k, 100, 2000, () => 0)).toBe(Math.ceil(c / 2));
      expect(segmentRetryDelayMs(k, 100, 2000, () => 0.999999)).toBe(c);
    }
  });
});
