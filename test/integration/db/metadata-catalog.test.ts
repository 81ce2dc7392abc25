/**
 * Metadata invalidation refreshing the live runtime registry (spec 07 §2, better than
 * upstream) and the catalog-order wait (spec 07 §7.2), against the real schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveRuntimeRegistry } from '../../../src/worker/live-runtime-registry';
import { MetadataInvalidation } from '../../../src/worker/metadata';
import { waitForPlatformCatalog } from '../../../src/worker/catalog-wait';
import { createCapturingLogger } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import { deliveryOf, envelopeOf } from '../../support/pack-fixtures';

let db: TestDatabase;
const cap = createCapturingLogger();

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const runtimeChanged = (id: number, ref: string, extra: Record<string, unknown> = {}) =>
  deliveryOf(envelopeOf('RuntimeChanged', { runtime_id: id, runtime_ref: ref, pack_ref: null, operation: 'updated', updated_at: new Date().toISOString(), ...extra }, 'api'), 'metadata.runtime.changed');

/** Platform rows change only with the catalog-write flag set in the same transaction (spec 04 §3.2). */
async function editPlatformRuntime(id: number, executionConfig: unknown): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT set_config('attune.catalog_write', 'on', true)");
    await c.query('UPDATE runtime SET execution_config = $2::jsonb WHERE id = $1', [id, JSON.stringify(executionConfig)]);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

describe('RuntimeChanged refreshes the runtime registry', () => {
  it('an edited runtime row is in the registry after its event, not before', async () => {
    const registry = await createLiveRuntimeRegistry(db.pool, null);
    const handler = new MetadataInvalidation({ registry, log: cap.log });
    const shell = () => registry.runtimes.find((r) => r.name === 'shell');
    expect(shell()?.config.interpreter?.binary).not.toBe('/bin/sh-edited');
    const row = (await db.pool.query("SELECT id, execution_config FROM runtime WHERE ref = 'core.shell'")).rows[0];
    const edited = { ...row.execution_config, interpreter: { ...row.execution_config.interpreter, binary: '/bin/sh-edited' } };
    await editPlatformRuntime(Number(row.id), edited);
    expect(shell()?.config.interpreter?.binary).not.toBe('/bin/sh-edited');
    expect(await handler.handle(runtimeChanged(Number(row.id), 'core.shell'))).toBe('ack');
    expect(shell()?.config.interpreter?.binary).toBe('/bin/sh-edited');
  });

  it('a new runtime row appears after PackChanged; a burst of events costs at most two reloads', async () => {
    const registry = await createLiveRuntimeRegistry(db.pool, null);
    await db.pool.query(
      `INSERT INTO runtime (ref, description, name, aliases, distributions, execution_config)
       VALUES ('meta.tcl', 'tcl', 'Tcl', ARRAY['tcl'], '{}'::jsonb, '{"interpreter":{"binary":"tclsh","file_extension":".tcl"}}'::jsonb)`,
    );
    expect(registry.runtimes.some((r) => r.name === 'tcl')).toBe(false);
    const handler = new MetadataInvalidation({ registry, log: cap.log });
    const pc = deliveryOf(envelopeOf('PackChanged', { pack_id: 1, pack_ref: 'meta', operation: 'registered', updated_at: new Date().toISOString() }, 'api'));
    const decisions = await Promise.all([handler.handle(pc), handler.handle(pc), handler.handle(pc)]);
    expect(decisions).toEqual(['ack', 'ack', 'ack']);
    expect(registry.runtimes.some((r) => r.name === 'tcl')).toBe(true);
    expect(registry.runtimes.at(-1)?.name).toBe('native');
  });

  it('the ATTUNE_WORKER_RUNTIMES filter still applies after a refresh', async () => {
    const registry = await createLiveRuntimeRegistry(db.pool, ['shell']);
    await registry.refresh();
    expect(registry.runtimes.map((r) => r.name)).toEqual(['shell', 'native']);
  });
});

describe('malformed metadata events', () => {
  const registry = { refresh: async () => ['x'] };
  it.each([
    ['bad JSON', Buffer.from('nope'), 'reject'],
    ['unknown message_type', envelopeOf('RuntimeExploded', {}), 'reject'],
    ['RuntimeChanged without runtime_id', envelopeOf('RuntimeChanged', { runtime_ref: 'a.b', operation: 'x', updated_at: new Date().toISOString() }), 'reject'],
    ['RuntimeChanged with a `..` pack_ref', envelopeOf('RuntimeChanged', { runtime_id: 1, runtime_ref: 'a', pack_ref: '../x', operation: 'x', updated_at: new Date().toISOString() }), 'reject'],
    ['ActionChanged with an absolute pack_ref', envelopeOf('ActionChanged', { action_id: 1, action_ref: 'a.b', pack_ref: '/etc', operation: 'x', updated_at: new Date().toISOString() }), 'reject'],
    ['ActionChanged with a bad timestamp', envelopeOf('ActionChanged', { action_id: 1, action_ref: 'a.b', pack_ref: 'a', operation: 'x', updated_at: 'yesterday' }), 'reject'],
    ['ActionChanged (valid)', envelopeOf('ActionChanged', { action_id: 1, action_ref: 'a.b', pack_ref: 'a', operation: 'updated', updated_at: new Date().toISOString() }), 'ack'],
    ['TriggerChanged (not bound upstream)', envelopeOf('TriggerChanged', { trigger_id: 1 }), 'ack'],
  ])('%s → %s, one error line when rejected', async (_n, body, decision) => {
    const handler = new MetadataInvalidation({ registry, log: cap.log });
    const before = cap.lines.length;
    expect(await handler.handle(deliveryOf(body))).toBe(decision);
    const errors = cap.lines.slice(before).filter((l) => (l.level as number) >= 50);
    expect(errors).toHaveLength(decision === 'reject' ? 1 : 0);
  });

  it('a failing refresh keeps the previous registry and acks', async () => {
    const handler = new MetadataInvalidation({ registry: { refresh: async () => Promise.reject(new Error('db down')) }, log: cap.log });
    expect(await handler.handle(runtimeChanged(1, 'core.shell'))).toBe('ack');
    expect(cap.lines.some((l) => l.msg === 'runtime registry refresh failed; keeping the previous definitions')).toBe(true);
  });
});

describe('catalog order (spec 07 §7.2)', () => {
  it('returns at once when reconciled, and for a legacy revision-0 database that has core.* runtimes', async () => {
    expect(await waitForPlatformCatalog(db.pool, { timeoutMs: 1000 })).toBe(1);
    await db.pool.query('UPDATE platform_catalog_state SET revision = 0');
    expect(await waitForPlatformCatalog(db.pool, { timeoutMs: 1000 })).toBe(0);
  });

  it('waits while the catalog is empty at revision 0 and resolves when the API reconciles', async () => {
    // A fresh database: no core runtimes yet (the seed's guard triggers are bypassed to remove them).
    const c = await db.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL session_replication_role = replica');
      await c.query("DELETE FROM runtime_version WHERE runtime_ref LIKE 'core.%'");
      await c.query("DELETE FROM runtime WHERE ref LIKE 'core.%'");
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const progress: string[] = [];
    const waiting = waitForPlatformCatalog(db.pool, { timeoutMs: 20_000, intervalMs: 50, progressEveryMs: 0, onProgress: (m) => progress.push(m) });
    await new Promise((r) => setTimeout(r, 300));
    await db.pool.query('UPDATE platform_catalog_state SET revision = 1');
    expect(await waiting).toBe(1);
    expect(progress[0]).toMatch(/waiting for the Attune API to reconcile the platform catalog/);
  });

  it('times out with one operator message naming the fix', async () => {
    await db.pool.query('UPDATE platform_catalog_state SET revision = 0');
    await expect(waitForPlatformCatalog(db.pool, { timeoutMs: 200, intervalMs: 50 })).rejects.toThrow(/not reconciled after .*Start the Attune API/);
  });
});
