/**
 * Restarts the local PostgreSQL cluster mid-run: affects every DB user on the machine, so it
 * lives in its own file, stays short, and waits for PostgreSQL to accept connections again
 * before finishing.
 */
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log';
import { getWorker } from '../../../src/db/queries/get-worker';
import { registerWorker } from '../../../src/worker/registration';
import { startHeartbeat } from '../../../src/worker/heartbeat';
import { createTestDatabase, testDatabaseBaseUrl, type TestDatabase } from '../../support/db';

const execFileP = promisify(execFile);
const RESTART = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart';

async function waitForPostgres(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: testDatabaseBaseUrl(), connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not come back within ${timeoutMs} ms: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

const logLines: Record<string, unknown>[] = [];
const log = createLogger({
  level: 'debug',
  format: 'json',
  destination: new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }),
});

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ log });
});

afterAll(async () => {
  await waitForPostgres(60_000);
  await db?.drop();
});

describe('PostgreSQL restart while the agent runs', () => {
  it('heartbeats resume on the same pool after the server restarts', async () => {
    const worker = await registerWorker(
      db.pool,
      { name: 'restart-worker', workerType: 'local', workerRole: 'action', runtime: null, host: null, port: null },
      { runtimes: ['native'] },
      log,
    );
    const pool = db.pool;
    const pidBefore = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const hb = startHeartbeat({ db: pool, workerId: worker.id, intervalSec: 0.2, retryAfterFailureMs: 200, log });
    try {
      const deadline0 = Date.now() + 5000;
      while (hb.lastBeatAt === null && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 20));
      expect(hb.lastBeatAt).not.toBeNull();

      await execFileP('sh', ['-c', RESTART], { timeout: 60_000 });
      const restartedAt = Date.now();
      await waitForPostgres(30_000);

      // The heartbeat loop (same pool object, no recreation) writes again after the restart.
      const deadline = Date.now() + 20_000;
      let row = await getWorker(pool, worker.id).catch(() => null);
      while ((row === null || row.lastHeartbeat!.getTime() < restartedAt) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        row = await getWorker(pool, worker.id).catch(() => null);
      }
      expect(row!.lastHeartbeat!.getTime()).toBeGreaterThanOrEqual(restartedAt);
      expect(hb.consecutiveFailures).toBe(0);
      expect(db.pool).toBe(pool);

      const pidAfter = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      expect(pidAfter).not.toBe(pidBefore);
      // New connections got the session setup again.
      const sp = await pool.query("SELECT current_setting('search_path') AS sp");
      expect(sp.rows[0].sp).toBe('attune, public');
      // The dropped idle connections were reported, not thrown.
      expect(logLines.some((l) => l.msg === 'idle PostgreSQL connection failed; it was discarded' || l.msg === 'heartbeat failed; retrying')).toBe(true);
    } finally {
      await hb.stop();
    }
  });
});
