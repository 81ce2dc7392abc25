import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, WorkerTokenProvider } from '../../../src/api';
import { createSilentLogger } from '../../../src/log';
import { LogSealer } from '../../../src/logs/sealer';
import { SegmentUploads } from '../../../src/logs/segment-streams';
import { startFakeApi, type FakeApi } from '../../support/fake-api';

let api: FakeApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

const policy = { initialBytes: 1024, maxBytes: 4096, flushIntervalMs: 20, retryMaxAttempts: 5, attemptTimeoutMs: 5_000, initialBackoffMs: 10, maxBackoffMs: 40 };

async function setup(budget: number): Promise<{ api: FakeApi; uploads: SegmentUploads }> {
  api = await startFakeApi({ jwtSecret: 's' });
  api.route('PUT', /\/segments\/\d+$/, () => ({ status: 201, body: {} }));
  api.route('POST', /\/seal$/, () => ({ status: 200, body: {} }));
  const tokens = new WorkerTokenProvider({ secret: 's' });
  tokens.setWorkerId(1);
  const client = new ApiClient({ baseUrl: api.url, tokens });
  const log = createSilentLogger();
  return { api, uploads: new SegmentUploads(client, policy, new LogSealer({ api: client, log }), log, budget) };
}

describe('SegmentUploads (spec 06 §2.6–§2.7)', () => {
  it('seals after the last segment when the API is fast: true, one seal with truncated=false', async () => {
    const { api: a, uploads } = await setup(1 << 20);
    const w = uploads.writer(11);
    w.append(Buffer.from('hello'));
    await w.end();
    expect(await uploads.finish(w, 11, false, 1_000)).toBe(true);
    expect(a.requestsTo(/\/logs\/11\/seal$/).map((q) => q.query)).toEqual([{ truncated: 'false' }]);
  });

  it('a slow API: returns false at the wait bound, uploads and seals in the background', async () => {
    const { api: a, uploads } = await setup(1 << 20);
    a.inject({ method: 'PUT', path: /\/segments\/\d+$/, delayMs: 400 });
    const w = uploads.writer(12);
    w.append(Buffer.from('late'));
    await w.end();
    const t0 = Date.now();
    expect(await uploads.finish(w, 12, false, 100)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(350);
    expect(uploads.backgroundCount).toBe(1);
    await new Promise((r) => setTimeout(r, 800));
    expect(a.requestsTo(/\/logs\/12\/seal$/).map((q) => q.status)).toEqual([200]);
    expect(uploads.backgroundCount).toBe(0);
  });

  it('beyond the background memory budget the oldest stream is abandoned (never sealed)', async () => {
    const { api: a, uploads } = await setup(5_000);
    a.inject({ method: 'PUT', path: /\/segments\/\d+$/, delayMs: 600, times: 2 });
    const first = uploads.writer(21);
    const second = uploads.writer(22);
    first.append(Buffer.alloc(3_000, 1));
    second.append(Buffer.alloc(3_000, 2));
    await Promise.all([first.end(), second.end()]);
    await uploads.finish(first, 21, false, 50);
    await uploads.finish(second, 22, false, 50);
    expect(first.failure?.message).toBe('too many log bytes waiting for the Attune API in the background');
    expect(second.failure).toBeNull();
    await new Promise((r) => setTimeout(r, 1_200));
    expect(a.requestsTo(/\/logs\/21\/seal$/)).toEqual([]);
    expect(a.requestsTo(/\/logs\/22\/seal$/).map((q) => q.status)).toEqual([200]);
  });

  it('stop() aborts what is still uploading after its budget', async () => {
    const { api: a, uploads } = await setup(1 << 20);
    a.inject({ method: 'PUT', path: /\/segments\/\d+$/, delayMs: 3_000 });
    const w = uploads.writer(31);
    w.append(Buffer.from('x'));
    await w.end();
    await uploads.finish(w, 31, false, 50);
    const t0 = Date.now();
    await uploads.stop(200);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(w.failure?.message).toBe('agent stopping');
  });
});
