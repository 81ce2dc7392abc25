import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { getWorker } from '../../../src/db/queries/get-worker';
import { buildCapabilities, resolveWorkerIdentity } from '../../../src/worker/capabilities';
import { deregisterWorker, registerWorker } from '../../../src/worker/registration';
import { startHeartbeat } from '../../../src/worker/heartbeat';
import { createTestDatabase, type TestDatabase } from '../../support/db';

const log = createSilentLogger();
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

function identityFor(name: string) {
  return resolveWorkerIdentity({
    workerConfig: { name: null, workerType: null, runtimeId: null, host: null, port: null },
    env: { ATTUNE_WORKER_NAME: name, ATTUNE_WORKER_TYPE: 'container' },
    hostname: 'agent-host-1',
  }).identity;
}

function capabilitiesFor() {
  return buildCapabilities({
    workerConfig: { maxConcurrentTasks: 3, labels: { zone: 'a' }, taints: [], capabilities: null },
    env: { ATTUNE_AGENT_MODE: 'true', ATTUNE_WORKER_RUNTIMES: 'shell,python' },
    detected: [
      { name: 'shell', path: '/bin/bash', version: '5.2.15' },
      { name: 'python', path: '/usr/bin/python3', version: '3.11.2' },
    ],
    agentVersion: '0.6.0',
  }).capabilities;
}

async function historyCount(workerId: number): Promise<number> {
  const res = await db.pool.query('SELECT count(*)::int AS n FROM worker_history WHERE entity_id = $1', [workerId]);
  return res.rows[0].n as number;
}

async function waitFor(pred: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('worker registration in PostgreSQL', () => {
  it('inserts a row with every upstream column set as expected', async () => {
    const before = new Date(Date.now() - 1000);
    const row = await registerWorker(db.pool, identityFor('reg-insert'), capabilitiesFor(), log);
    const raw = await db.pool.query('SELECT * FROM worker WHERE id = $1', [row.id]);
    const r = raw.rows[0];
    expect(r).toMatchObject({
      name: 'reg-insert',
      worker_type: 'container',
      worker_role: 'action',
      runtime: null,
      host: 'agent-host-1',
      port: null,
      status: 'active',
      meta: null,
      cordoned: false,
      cordon_reason: null,
    });
    expect(r.last_heartbeat.getTime()).toBeGreaterThan(before.getTime());
    expect(r.capabilities).toEqual({
      max_concurrent_executions: 3,
      worker_version: '0.6.0',
      agent_mode: true,
      labels: { zone: 'a' },
      runtimes: ['shell', 'python', 'native'],
      detected_interpreters: [
        { name: 'shell', path: '/bin/bash', version: '5.2.15' },
        { name: 'python', path: '/usr/bin/python3', version: '3.11.2' },
      ],
      runtime_versions: { python: ['3.11.2'], shell: ['5.2.15'] },
    });
    expect(row.capabilities).toEqual(r.capabilities);
    const hist = await db.pool.query('SELECT operation, entity_ref FROM worker_history WHERE entity_id = $1', [row.id]);
    expect(hist.rows).toEqual([{ operation: 'INSERT', entity_ref: 'reg-insert' }]);
  });

  it('reuses the same id on re-registration and keeps type, role and the operator cordon', async () => {
    const first = await registerWorker(db.pool, identityFor('reg-again'), capabilitiesFor(), log);
    await db.pool.query("UPDATE worker SET status = 'inactive', cordoned = true, cordon_reason = 'maintenance', worker_type = 'remote' WHERE id = $1", [first.id]);
    const second = await registerWorker(db.pool, { ...identityFor('reg-again'), host: 'agent-host-2', port: 8123 }, { runtimes: ['shell', 'native'] }, log);
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ status: 'active', host: 'agent-host-2', port: 8123, workerType: 'remote', cordoned: true, cordonReason: 'maintenance' });
    expect(second.capabilities).toEqual({ runtimes: ['shell', 'native'] });
    const count = await db.pool.query("SELECT count(*)::int AS n FROM worker WHERE name = 'reg-again'");
    expect(count.rows[0].n).toBe(1);
  });

  it('lets two agents racing on a new name end up with one shared row instead of failing', async () => {
    const [a, b] = await Promise.all([
      registerWorker(db.pool, identityFor('reg-race'), capabilitiesFor(), log),
      registerWorker(db.pool, identityFor('reg-race'), capabilitiesFor(), log),
    ]);
    expect(a.id).toBe(b.id);
  });

  it('heartbeat advances last_heartbeat at a 0.2 s interval without writing worker_history', async () => {
    const row = await registerWorker(db.pool, identityFor('reg-heartbeat'), capabilitiesFor(), log);
    const historyBefore = await historyCount(row.id);
    const startBeat = row.lastHeartbeat!.getTime();
    const hb = startHeartbeat({ db: db.pool, workerId: row.id, intervalSec: 0.2, log });
    try {
      const seen = new Set<number>();
      await waitFor(async () => {
        const w = await getWorker(db.pool, row.id);
        seen.add(w!.lastHeartbeat!.getTime());
        return seen.size >= 3 && [...seen].every((t) => t >= startBeat);
      });
      expect(Math.max(...seen)).toBeGreaterThan(startBeat);
    } finally {
      await hb.stop();
    }
    expect(await historyCount(row.id)).toBe(historyBefore);
  });

  it('deregister marks the row inactive (history records the status change) and no tick revives it after stop()', async () => {
    const row = await registerWorker(db.pool, identityFor('reg-dereg'), capabilitiesFor(), log);
    const hb = startHeartbeat({ db: db.pool, workerId: row.id, intervalSec: 0.05, log });
    await waitFor(async () => hb.lastBeatAt !== null);
    await hb.stop();
    expect(await deregisterWorker(db.pool, row.id, log)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const w = await getWorker(db.pool, row.id);
    expect(w!.status).toBe('inactive');
    const hist = await db.pool.query(
      "SELECT changed_fields, new_values FROM worker_history WHERE entity_id = $1 AND operation = 'UPDATE'",
      [row.id],
    );
    expect(hist.rows).toEqual([{ changed_fields: ['status'], new_values: { status: 'inactive' } }]);
  });

  it('deregister of an unknown id reports false without throwing', async () => {
    expect(await deregisterWorker(db.pool, 987654321, log)).toBe(false);
  });
});
