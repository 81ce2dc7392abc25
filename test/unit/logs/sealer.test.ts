import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, WorkerTokenProvider } from '../../../src/api';
import { createSilentLogger } from '../../../src/log';
import { LogSealer } from '../../../src/logs/sealer';
import { startFakeApi, type FakeApi } from '../../support/fake-api';

let api: FakeApi | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

async function setup(): Promise<{ api: FakeApi; sealer: LogSealer }> {
  api = await startFakeApi({ jwtSecret: 's' });
  api.route('POST', /^\/api\/v1\/internal\/logs\/(\d+)\/seal$/, () => ({ status: 200, body: {} }));
  const tokens = new WorkerTokenProvider({ secret: 's' });
  tokens.setWorkerId(1);
  const sealer = new LogSealer({ api: new ApiClient({ baseUrl: api.url, tokens }), log: createSilentLogger(), retryBaseMs: 100, retryMaxMs: 200 });
  return { api, sealer };
}

describe('LogSealer', () => {
  it('answers true when the API seals in time', async () => {
    const { sealer } = await setup();
    expect(await sealer.seal(1, false, 1000)).toBe(true);
    expect(sealer.pendingCount).toBe(0);
  });

  it('does not wait for a slow API beyond waitMs, and the seal still lands', async () => {
    const { api: a, sealer } = await setup();
    a.inject({ path: /seal$/, delayMs: 500 });
    const t0 = Date.now();
    expect(await sealer.seal(2, false, 100)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 600));
    expect(a.requestsTo(/\/logs\/2\/seal$/).map((q) => q.status)).toEqual([200]);
  });

  it('during an outage queues new streams without a request, then seals them all on recovery', async () => {
    const { api: a, sealer } = await setup();
    a.inject({ path: /seal$/, status: 503, times: 1 });
    expect(await sealer.seal(3, false, 1000)).toBe(false);
    expect(await sealer.seal(4, true, 1000)).toBe(false); // API known down: no request now
    expect(a.requestsTo(/\/logs\/4\/seal$/)).toEqual([]);
    await new Promise((r) => setTimeout(r, 800));
    expect(sealer.pendingCount).toBe(0);
    expect(a.requestsTo(/\/logs\/3\/seal$/).map((q) => q.status)).toEqual([503, 200]);
    expect(a.requestsTo(/\/logs\/4\/seal$/).map((q) => [q.status, q.query.truncated])).toEqual([[200, 'true']]);
  });

  it('during an outage sends one probe per backoff step, not one retry per queued stream (issue 18)', async () => {
    const { api: a, sealer } = await setup();
    a.inject({ path: /seal$/, status: 503, times: 1000 });
    for (let id = 10; id <= 16; id++) expect(await sealer.seal(id, false, 1000)).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    // Backoff 100, 200, 200 … ms (+ ≤ 250 ms spread): a handful of probes in 1.5 s, one at a
    // time; a retry per stream would have been 7 × that.
    const sent = a.requestsTo(/\/logs\/\d+\/seal$/).length;
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThanOrEqual(10);
    expect(sealer.pendingCount).toBe(7);
    await sealer.stop(200);
  });

  it('holds at most maxPending streams during an outage, however many arrive (oldest given up first)', async () => {
    const { api: a } = await setup();
    a.inject({ path: /seal$/, status: 503, times: 100_000 });
    const tokens = new WorkerTokenProvider({ secret: 's' });
    tokens.setWorkerId(1);
    const sealer = new LogSealer({ api: new ApiClient({ baseUrl: a.url, tokens }), log: createSilentLogger(), retryBaseMs: 60_000, retryMaxMs: 60_000, maxPending: 50 });
    expect(await sealer.seal(1, false, 1000)).toBe(false); // the failure that marks the API down
    for (let id = 2; id <= 500; id++) expect(await sealer.seal(id, false, 1000)).toBe(false);
    expect(sealer.pendingCount).toBe(50);
    expect(a.requestsTo(/\/logs\/\d+\/seal$/)).toHaveLength(1); // queued, not sent
    await sealer.stop(200);
  });

  it('does not retry a conflict', async () => {
    const { api: a, sealer } = await setup();
    a.inject({ path: /seal$/, status: 409, times: 5 });
    expect(await sealer.seal(5, false, 1000)).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(a.requestsTo(/\/logs\/5\/seal$/)).toHaveLength(1);
    expect(sealer.pendingCount).toBe(0);
  });
});
