/**
 * The built agent on the newest worker contract (spec 07 §1–§3): pack tests over
 * `worker.<id>.packtests`, PackDeleted over `worker.<id>.packs`, metadata invalidation on
 * `attune.metadata` refreshing the runtime registry without a restart, and malformed input on
 * every consumed queue — one clear log line, dead-lettered or acked as upstream, the agent
 * keeps serving.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, createDurableRecorder, envelope, pollUntil, type AgentProcess, type AgentTestEnv, type DurableRecorder, type RecordedMq } from '../../support/agent';
import { insertPackInstall, insertPackWithRelease, writeReleasePack } from '../../support/pack-fixtures';

let e: AgentTestEnv;
let agent: AgentProcess;
let workerId: number;
let runtimeEnvsDir: string;
let dlx: DurableRecorder;

beforeAll(async () => {
  e = await createAgentTestEnv();
  runtimeEnvsDir = join(e.workDir, 'runtime_envs');
  ({ agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-packs') }));
  await agent.waitForLog('consuming metadata invalidations', 15_000);
  const keys = ['pack.registered', 'pack.deleted', `execution.dispatch.worker.${workerId}`, `execution.cancel.worker.${workerId}`, `pack.test.dispatch.worker.${workerId}`];
  dlx = await createDurableRecorder(e.vhost.url, keys.map((routingKey) => ({ exchange: 'attune.dlx', routingKey })));
});

afterAll(async () => {
  try {
    await dlx?.delete().catch(() => undefined);
    if (agent?.isAlive()) await agent.stop();
  } finally {
    await e?.cleanup();
  }
});

/**
 * Messages dead-lettered from `queue` so far. attune.dlx is a direct exchange that keeps the
 * original routing key and attune.dlx.queue's `#` binding matches none (spec 02 §2.5, so
 * upstream effectively drops them); this recorder binds the real keys to see them.
 */
async function deadLettered(queue: string): Promise<RecordedMq[]> {
  const all = await dlx.drain();
  return all.filter((m) => (m.properties.headers?.['x-death'] as { queue?: string }[] | undefined)?.[0]?.queue === queue);
}

async function runEcho(message: string, actionRef = 'demo_test.echo'): Promise<Record<string, any>> {
  const ex = await e.submit(workerId, { actionRef, parameters: { message } });
  await e.cp.waitForCompletions([ex.id], 30_000);
  return (await e.cp.getExecution(ex.id)) as Record<string, any>;
}

describe('pack tests over worker.<id>.packtests (spec 07 §1)', () => {
  const testing = { enabled: true, discovery: { method: 'directory' }, runners: { shell: { type: 'script', entry_point: 'tests/run.sh', timeout: 60 } } };
  const publish = (installId: number, ref: string) =>
    e.cp.publishRaw(
      `pack.test.dispatch.worker.${workerId}`,
      envelope('PackTestRequested', { pack_install_id: installId, pack_ref: ref, pack_version: '1.0.0', candidate_path: null, trigger_reason: 'install', required_runtimes: ['shell'] }, 'executor'),
    );
  const finished = (id: number) =>
    pollUntil(async () => {
      const r = (await e.cp.query('SELECT * FROM pack_install WHERE id = $1', [id])).rows[0];
      return r && r.status !== 'running' ? r : undefined;
    }, 30_000, `pack install ${id} finished`);

  it.each([
    ['passes', 'e2e_pass', 0, 'activating', null],
    ['fails', 'e2e_fail', 3, 'failed', 'Pack tests did not pass (0/1 passed)'],
  ])('a pack whose tests %s: pack_install and pack_test_execution as upstream', async (_n, ref, exit, status, error) => {
    const { packDir, digest } = writeReleasePack(e.packsDir, { ref, version: '1.0.0', testing }, { 'tests/run.sh': `#!/bin/sh\necho "Total Tests: 1"\nexit ${exit}\n` });
    const { packId } = await insertPackWithRelease(e.db.pool, ref, '1.0.0', digest, packDir);
    const id = await insertPackInstall(e.db.pool, { packRef: ref, packVersion: '1.0.0', packId, assignedWorkerId: workerId });
    await publish(id, ref);
    const row = await finished(id);
    expect(row).toMatchObject({ status, error_message: error });
    const te = (await e.cp.query('SELECT * FROM pack_test_execution WHERE id = $1', [row.test_execution_id])).rows[0];
    expect(te).toMatchObject({ pack_id: String(packId), total_tests: 1, passed: exit === 0 ? 1 : 0, failed: exit === 0 ? 0 : 1, trigger_reason: 'install' });
    expect(row.test_result).toEqual(te?.result);
    expect(agent.findLogs((l) => String(l.msg).startsWith(`Pack tests for '${ref}' completed: status=`) && l.packInstallId === id)).toHaveLength(1);
  });
});

describe('PackDeleted over worker.<id>.packs (spec 07 §3.1)', () => {
  const publish = (payload: Record<string, unknown>) => e.cp.publishRaw('pack.deleted', envelope('PackDeleted', payload, 'api'), 'attune.events');

  it('a deleted pack loses its runtime envs (legacy, content-addressed, recorded); others stay', async () => {
    const key = 'c'.repeat(64);
    for (const d of ['gone_pack/python', `sha256/${key}`, 'kept/python', 'records/gone-node']) mkdirSync(join(runtimeEnvsDir, d), { recursive: true });
    writeFileSync(join(runtimeEnvsDir, 'sha256', key, '.attune-pack-ref'), 'gone_pack');
    await publish({ pack_id: 555, pack_ref: 'gone_pack', runtime_environment_paths: ['records/gone-node'], release_digests: [] });
    await agent.waitForLog((l) => l.msg === 'pack deleted: runtime environments removed' && l.packRef === 'gone_pack', 15_000);
    expect(existsSync(join(runtimeEnvsDir, 'gone_pack'))).toBe(false);
    expect(existsSync(join(runtimeEnvsDir, 'sha256', key))).toBe(false);
    expect(existsSync(join(runtimeEnvsDir, 'records', 'gone-node'))).toBe(false);
    expect(existsSync(join(runtimeEnvsDir, 'kept', 'python'))).toBe(true);
  });

  it('an absolute or `..` path is dead-lettered with one error line; nothing is removed', async () => {
    mkdirSync(join(e.workDir, 'outside'), { recursive: true });
    mkdirSync(join(runtimeEnvsDir, 'evil', 'python'), { recursive: true });
    const before = (await deadLettered(`worker.${workerId}.packs`)).length;
    await publish({ pack_id: 1, pack_ref: 'evil', runtime_environment_paths: [join(e.workDir, 'outside')] });
    await publish({ pack_id: 1, pack_ref: 'evil', runtime_environment_paths: ['../outside'] });
    await pollUntil(async () => (await deadLettered(`worker.${workerId}.packs`)).length === before + 2, 15_000, 'two dead-lettered PackDeleted');
    expect(agent.findLogs((l) => l.component === 'packs' && String(l.error).includes('must be relative'))).toHaveLength(1);
    expect(agent.findLogs((l) => l.component === 'packs' && String(l.error).includes('outside the runtime root'))).toHaveLength(1);
    expect(existsSync(join(e.workDir, 'outside'))).toBe(true);
    expect(existsSync(join(runtimeEnvsDir, 'evil', 'python'))).toBe(true);
  });

  it('PackDeleted for the installed demo pack is stale (the ref exists): acked, nothing removed', async () => {
    mkdirSync(join(runtimeEnvsDir, 'demo_test', 'keep'), { recursive: true });
    await publish({ pack_id: e.demoPack.packId + 1000, pack_ref: 'demo_test' });
    await agent.waitForLog((l) => l.msg === 'Ignoring stale pack.deleted event after pack ref was reinstalled', 15_000);
    expect(existsSync(join(runtimeEnvsDir, 'demo_test', 'keep'))).toBe(true);
  });
});

describe('metadata invalidation refreshes the runtime registry (spec 07 §2, better than upstream)', () => {
  const changed = (runtimeId: number, ref: string) =>
    e.cp.publishRaw('metadata.runtime.changed', envelope('RuntimeChanged', { runtime_id: runtimeId, runtime_ref: ref, pack_ref: null, operation: 'updated', updated_at: new Date().toISOString() }, 'api'), 'attune.metadata');

  it('a runtime created, then edited in the database is used by the next execution after its event', async () => {
    const cfg = (binary: string) => JSON.stringify({ interpreter: { binary, args: [], file_extension: '.sh' } });
    const rt = await e.cp.query(
      `INSERT INTO runtime (ref, description, name, aliases, distributions, execution_config)
       VALUES ('e2e.posix', 'POSIX sh', 'Posix', ARRAY['posix', 'sh'], '{}'::jsonb, $1::jsonb) RETURNING id`,
      [cfg('/bin/sh')],
    );
    const runtimeId = Number(rt.rows[0]?.id);
    await e.cp.query(
      `INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime, parameter_delivery, parameter_format)
       VALUES ('demo_test.posix_echo', $1, 'demo_test', 'posix echo', 'echo.sh', $2, 'stdin', 'dotenv')`,
      [e.demoPack.packId, runtimeId],
    );
    // Before the event the registry does not know the runtime (as upstream, until a restart).
    const before = await runEcho('early', 'demo_test.posix_echo');
    expect(before.status).toBe('failed');
    expect(String(before.result?.error)).toContain("Runtime 'posix' not found");

    await changed(runtimeId, 'e2e.posix');
    await agent.waitForLog((l) => l.msg === 'runtime registry refreshed after a metadata change' && l.runtimeRef === 'e2e.posix', 15_000);
    const after = await runEcho('now known', 'demo_test.posix_echo');
    expect(after.status).toBe('completed');
    expect(after.result.stdout).toBe('now known\n');

    // Edit: renamed runtime with another interpreter; the event makes the next execution use it.
    await e.cp.query(`UPDATE runtime SET name = 'Dash', aliases = ARRAY['dash', 'sh'], execution_config = $2::jsonb WHERE id = $1`, [runtimeId, cfg('/bin/dash')]);
    const stale = await runEcho('stale', 'demo_test.posix_echo');
    expect(String(stale.result?.error)).toContain("Runtime 'dash' not found");
    await changed(runtimeId, 'e2e.posix');
    await pollUntil(() => agent.findLogs((l) => l.msg === 'runtime registry refreshed after a metadata change' && l.runtimeRef === 'e2e.posix').length === 2, 15_000, 'second refresh');
    const edited = await runEcho('edited', 'demo_test.posix_echo');
    expect(edited.status).toBe('completed');
    expect(edited.result.stdout).toBe('edited\n');
    expect(agent.isAlive()).toBe(true);
  });
});

describe('malformed input on every consumed queue', () => {
  const cases: [string, string, string, unknown][] = [
    ['executions', 'attune.executions', 'dispatch', '{"payload": '],
    ['executions', 'attune.executions', 'dispatch', envelope('ExecutionRequested', { worker_id: 1, action_ref: '../../../etc/passwd' }, 'executor')],
    ['cancel', 'attune.executions', 'cancel', '{not json'],
    ['cancel', 'attune.executions', 'cancel', envelope('ExecutionCancelRequested', { worker_id: 1 }, 'api')],
    ['packs', 'attune.events', 'pack.registered', '{"message_type":'],
    ['packs', 'attune.events', 'pack.registered', envelope('PackRegistered', { pack_id: 1, pack_ref: '../../etc', version: '1' }, 'api')],
    ['packtests', 'attune.executions', 'packtest', 'nope'],
    ['packtests', 'attune.executions', 'packtest', envelope('PackTestRequested', { pack_install_id: 1, pack_ref: '/abs', pack_version: '1', trigger_reason: 'install' }, 'executor')],
  ];
  const key = (k: string) =>
    k === 'cancel' ? `execution.cancel.worker.${workerId}` : k === 'packtest' ? `pack.test.dispatch.worker.${workerId}` : k === 'dispatch' ? `execution.dispatch.worker.${workerId}` : k;

  it('each is dead-lettered from its own queue with exactly one error line', async () => {
    for (const [queue, exchange, rk, body] of cases) {
      const q = `worker.${workerId}.${queue}`;
      const before = (await deadLettered(q)).length;
      const errorsBefore = agent.logs.filter((l) => l.level === 'error').length;
      await e.cp.publishRaw(key(rk), body, exchange);
      await pollUntil(async () => (await deadLettered(q)).length === before + 1, 15_000, `dead-letter on ${q}`);
      expect(agent.logs.filter((l) => l.level === 'error').length - errorsBefore).toBe(1);
    }
  });

  it('bad metadata events are rejected with one line each (the metadata queue has no DLX, as upstream)', async () => {
    const bad = ['not json', envelope('RuntimeChanged', { runtime_ref: 'x' }, 'api'), envelope('ActionChanged', { action_id: 1, action_ref: 'a', pack_ref: '..', operation: 'x', updated_at: new Date().toISOString() }, 'api')];
    const before = agent.findLogs((l) => String(l.msg).startsWith('malformed metadata invalidation rejected')).length;
    for (const b of bad) await e.cp.publishRaw('metadata.runtime.changed', b, 'attune.metadata');
    await pollUntil(() => agent.findLogs((l) => String(l.msg).startsWith('malformed metadata invalidation rejected')).length === before + 3, 15_000, 'three metadata rejections');
  });

  it('the agent keeps serving afterwards', async () => {
    expect(agent.isAlive()).toBe(true);
    const row = await runEcho('still serving');
    expect(row.status).toBe('completed');
    expect(row.result.stdout).toBe('still serving\n');
  });
});
