import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { HEARTBEAT_WORKER_SQL } from '../../../src/db/queries/heartbeat-worker';
import type { Queryable, QueryResultLike } from '../../../src/db/rows';
import { startHeartbeat } from '../../../src/worker/heartbeat';

/** A fake database whose heartbeat UPDATE fails while `failing` is true. */
function fakeDb() {
  const calls: { sql: string; params: unknown[] }[] = [];
  const state = { failing: false, delayMs: 0 };
  const db: Queryable = {
    async query(sql: string, params: unknown[] = []): Promise<QueryResultLike> {
      calls.push({ sql, params });
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.failing) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      return { rows: [], rowCount: 1 };
    },
  };
  return { db, calls, state };
}

async function waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('startHeartbeat', () => {
  it('beats immediately with the heartbeat UPDATE for this worker id', async () => {
    const { db, calls } = fakeDb();
    const hb = startHeartbeat({ db, workerId: 42, intervalSec: 3600, log: createSilentLogger() });
    await waitFor(() => hb.lastBeatAt !== null);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.sql).toBe(HEARTBEAT_WORKER_SQL);
    expect(calls[0]?.params[0]).toBe(42);
    await hb.stop();
  });

  it('retries a failed tick after the short failure delay instead of the full interval', async () => {
    const { db, calls, state } = fakeDb();
    state.failing = true;
    const hb = startHeartbeat({ db, workerId: 1, intervalSec: 3600, retryAfterFailureMs: 20, log: createSilentLogger() });
    await waitFor(() => calls.length >= 3);
    expect(hb.lastBeatAt).toBeNull();
    expect(hb.consecutiveFailures).toBeGreaterThanOrEqual(2);
    state.failing = false;
    await waitFor(() => hb.lastBeatAt !== null);
    expect(hb.consecutiveFailures).toBe(0);
    await hb.stop();
  });

  it('stop() waits for an in-flight tick and prevents any later tick', async () => {
    const { db, calls, state } = fakeDb();
    state.delayMs = 100;
    const hb = startHeartbeat({ db, workerId: 1, intervalSec: 0.01, log: createSilentLogger() });
    await waitFor(() => calls.length >= 1);
    const p1 = hb.stop();
    const p2 = hb.stop();
    expect(p2).toBe(p1);
    await p1;
    const seen = calls.length;
    // The in-flight tick completed before stop() resolved; nothing is scheduled afterwards.
    expect(hb.lastBeatAt).not.toBeNull();
    await new Promise((r) => setTimeout(r, 150));
    expect(calls.length).toBe(seen);
  });
});
