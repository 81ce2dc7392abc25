/**
 * Message flow of the real bundle: dispatch in, DB status + ExecutionStatusChanged +
 * ExecutionCompleted out (spec 02 §3–§8, spec 04 §4.2), with the ControlPlane stand-in for
 * Attune's API/executor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../../support/amqp';
import {
  createAgentTestEnv,
  envelope,
  pollUntil,
  waitForRowStatus,
  type AgentProcess,
  type AgentTestEnv,
  type CreatedExecution,
  type RecordedMq,
} from '../../support/agent';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let e: AgentTestEnv;
let agent: AgentProcess;
let workerId: number;
/** Every execution this file ran on `agent`, checked for exactly one completion at the end. */
const submitted: number[] = [];

beforeAll(async () => {
  e = await createAgentTestEnv();
  ({ agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-msg') }));
});

afterAll(async () => {
  try {
    if (agent?.isAlive()) await agent.stop();
  } finally {
    await e?.cleanup();
  }
});

async function run(actionRef: string, parameters: Record<string, unknown> = {}, extra: { timeoutSec?: number } = {}) {
  const ex = await e.submit(workerId, { actionRef, parameters, timeoutSec: extra.timeoutSec ?? null });
  submitted.push(ex.id);
  // Generous: the first Python run builds its runtime environment (spec 03 §7.3) on a busy host.
  await e.cp.waitForCompletions([ex.id], 60_000);
  const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
  return { id: ex.id, row, result: row.result as Record<string, any>, completion: e.cp.completionsFor(ex.id)[0] as RecordedMq };
}

function statusSequence(id: number): string[] {
  return e.cp.statusMessagesFor(id).map((m) => String(m.body.payload?.new_status));
}

describe('runtimes (spec 03, spec 02 §5.3)', () => {
  it('shell: echo completes with the message on stdout', async () => {
    const r = await run('demo_test.echo', { message: "it's e2e" });
    expect(r.row.status).toBe('completed');
    expect(r.result).toMatchObject({ stdout: "it's e2e\n", exit_code: 0, succeeded: true });
    expect(r.completion.body.payload?.status).toBe('Completed');
  });

  it('python: py_json completes with the parsed JSON in result.data', async () => {
    const r = await run('demo_test.py_json', { name: 'Attune', count: 2 });
    expect(r.row.status).toBe('completed');
    expect(r.result.data).toEqual({ greeting: 'hello Attune hello Attune', count: 2, delivery: 'stdin' });
    expect(r.result.exit_code).toBe(0);
    expect(r.completion.body.payload?.status).toBe('Completed');
  });

  it('node: node_json completes with the sum and its own execution id', async () => {
    const r = await run('demo_test.node_json', { numbers: [4, 5, 6] });
    expect(r.row.status).toBe('completed');
    expect(r.result.data).toEqual({ sum: 15, execution_id: String(r.id) });
    expect(r.completion.body.payload?.status).toBe('Completed');
  });

  it('a failing action: DB failed, but the wire says completed/Completed (upstream quirk)', async () => {
    const r = await run('demo_test.fail', { code: 4 });
    expect(r.row.status).toBe('failed');
    expect(r.result).toMatchObject({ exit_code: 4, stdout: 'partial\n', succeeded: false });
    expect(String(r.result.error)).toContain('boom');
    expect(statusSequence(r.id)).toEqual(['running', 'completed']);
    expect(r.completion.body.payload?.status).toBe('Completed');
  });

  it('a timeout: DB timeout with timed_out, the wire says Completed', async () => {
    const started = Date.now();
    const r = await run('demo_test.sleep', { seconds: 30 }, { timeoutSec: 1 });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.row.status).toBe('timeout');
    expect(r.result.timed_out).toBe(true);
    expect(String(r.result.error)).toContain('timed out');
    expect(statusSequence(r.id)).toEqual(['running', 'completed']);
    expect(r.completion.body.payload?.status).toBe('Completed');
  });

  it('cancel of a running sleep: DB cancelled and a Cancelled completion well under 5 s', async () => {
    const ex = await e.submit(workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 30 } });
    submitted.push(ex.id);
    await waitForRowStatus(e.cp, ex.id, ['running'], 15_000);
    // The child is started once the dispatch is acked; let it actually run.
    await agent.waitForLog((l) => l.msg === 'execution started' && l.executionId === ex.id, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const cancelledAt = Date.now();
    await e.cp.cancel(ex.id, workerId);
    await e.cp.waitForCompletions([ex.id], 15_000);
    const tookMs = Date.now() - cancelledAt;
    console.log(`cancel: completion ${tookMs} ms after the cancel request`);
    expect(tookMs).toBeLessThan(5_000);
    const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
    expect(row.status).toBe('cancelled');
    expect(e.cp.completionsFor(ex.id)[0]?.body.payload?.status).toBe('Cancelled');
    expect(statusSequence(ex.id)).toEqual(['running', 'cancelled']);
  });
});

describe('published messages (spec 02 §3, §5)', () => {
  it('status running then terminal, one completion, upstream envelope fields and AMQP properties', async () => {
    const r = await run('demo_test.echo', { message: 'envelope' });
    await new Promise((res) => setTimeout(res, 300)); // nothing else may follow
    const status = e.cp.statusMessagesFor(r.id);
    const completions = e.cp.completionsFor(r.id);
    expect(completions).toHaveLength(1);
    expect(status.map((m) => m.body.payload?.new_status)).toEqual(['running', 'completed']);
    expect(status[0]?.body.payload?.previous_status).toBe('scheduled');
    // The terminal status message comes before the completion (spec 02 §5.3 order).
    expect(e.cp.messages.indexOf(status[1] as RecordedMq)).toBeLessThan(e.cp.messages.indexOf(completions[0] as RecordedMq));

    for (const m of [...status, ...completions]) {
      const b = m.body;
      expect(b.message_id).toMatch(UUID);
      expect(b.correlation_id).toBe(b.message_id);
      expect(b.version).toBe('1.0');
      expect(b.timestamp).toMatch(RFC3339);
      expect(b.headers).toMatchObject({ retry_count: 0, source_service: 'worker' });
      expect(m.properties.contentType).toBe('application/json');
      expect(m.properties.deliveryMode).toBe(2);
      expect(m.properties.messageId).toBe(b.message_id);
      expect(m.properties.correlationId).toBe(b.correlation_id);
      expect(m.properties.timestamp).toBe(Math.floor(Date.parse(String(b.timestamp)) / 1000));
    }
    for (const m of status) {
      expect(m.body.message_type).toBe('ExecutionStatusChanged');
      expect(m.routingKey).toBe('execution.status.changed');
      expect(m.body.payload).toMatchObject({ execution_id: r.id, action_ref: 'demo_test.echo' });
      expect(m.body.payload?.changed_at).toMatch(RFC3339);
    }
    const c = completions[0] as RecordedMq;
    expect(c.body.message_type).toBe('ExecutionCompleted');
    expect(c.routingKey).toBe('execution.completed');
    expect(c.body.payload).toMatchObject({
      execution_id: r.id,
      action_id: Number(r.row.action),
      action_ref: 'demo_test.echo',
      status: 'Completed',
      result: r.row.result,
    });
    expect(c.body.payload?.completed_at).toMatch(RFC3339);
  });
});

describe('duplicates (spec 02 §6)', () => {
  it('a dispatch published again after completion does not run twice', async () => {
    const r = await run('demo_test.echo', { message: 'once' });
    const before = (await e.cp.getExecution(r.id)) as Record<string, any>;
    await e.cp.dispatch({ id: r.id, releaseId: Number(before.pack_release), digest: before.pack_release_digest, row: before }, workerId);
    await agent.waitForLog((l) => l.executionId === r.id && /already completed/.test(String(l.msg)), 10_000);
    await new Promise((res) => setTimeout(res, 300));
    const after = (await e.cp.getExecution(r.id)) as Record<string, any>;
    expect(e.cp.completionsFor(r.id)).toHaveLength(1);
    expect(e.cp.statusMessagesFor(r.id)).toHaveLength(2);
    expect(after.status).toBe('completed');
    expect(after.updated).toEqual(before.updated);
    expect(after.started_at).toEqual(before.started_at);
    expect(after.result).toEqual(before.result);
  });

  it('copies of a dispatch delivered at the same time run each action once', async () => {
    // 10 executions, 4 copies of each dispatch published in one burst (what a redelivery next
    // to its stale original, or a retrying producer, looks like).
    const exs: CreatedExecution[] = [];
    for (let i = 0; i < 10; i++) exs.push(await e.cp.createExecution({ actionRef: 'demo_test.echo', workerId, parameters: { message: `dup ${i}` } }));
    submitted.push(...exs.map((x) => x.id));
    await Promise.all(exs.flatMap((ex) => [0, 1, 2, 3].map(() => e.cp.dispatch(ex, workerId))));
    await e.cp.waitForCompletions(exs.map((x) => x.id), 30_000);
    // Each extra copy is acked with a log line saying why it was not run.
    const skipped = (id: number): number => agent.findLogs((l) => l.executionId === id && /already/.test(String(l.msg))).length;
    await pollUntil(() => exs.every((ex) => skipped(ex.id) === 3), 10_000, 'three skipped copies per execution').catch(() => undefined);
    expect(exs.map((ex) => skipped(ex.id))).toEqual(exs.map(() => 3));
    await new Promise((res) => setTimeout(res, 300));
    const starts = exs.map((ex) => agent.findLogs((l) => l.msg === 'execution started' && l.executionId === ex.id).length);
    expect(starts).toEqual(exs.map(() => 1));
    expect(exs.map((ex) => e.cp.completionsFor(ex.id).length)).toEqual(exs.map(() => 1));
    for (const ex of exs) expect(((await e.cp.getExecution(ex.id)) as Record<string, any>).status).toBe('completed');
  });
});

describe('malformed and unrunnable messages (spec 02 §6, spec 03 §1.1)', () => {
  const key = (): string => `execution.dispatch.worker.${workerId}`;
  const rejected = (needle: string) => (l: Record<string, unknown>) =>
    l.msg === 'malformed message rejected (dead-lettered, not retried): fix the producer; the agent keeps serving' && String(l.error).includes(needle);

  it('a non-JSON body is rejected with one log line', async () => {
    await e.cp.publishRaw(key(), 'this is {not json');
    const line = await agent.waitForLog(rejected('not valid JSON'), 10_000);
    expect(line.level).toBe('error');
    expect(agent.findLogs(rejected('not valid JSON'))).toHaveLength(1);
  });

  it('an unknown message_type is rejected with one log line', async () => {
    await e.cp.publishRaw(key(), envelope('ExecutionExploded', { execution_id: 1, worker_id: workerId, action_ref: 'demo_test.echo' }, 'executor'));
    await agent.waitForLog(rejected('unknown message_type "ExecutionExploded"'), 10_000);
    expect(agent.findLogs(rejected('ExecutionExploded'))).toHaveLength(1);
  });

  it('a dispatch without execution_id is rejected with one log line', async () => {
    await e.cp.publishRaw(key(), envelope('ExecutionRequested', { worker_id: workerId, action_ref: 'demo_test.echo', config: null }, 'executor'));
    await agent.waitForLog(rejected('execution_id'), 10_000);
    expect(agent.findLogs(rejected('execution_id'))).toHaveLength(1);
  });

  it('a dispatch for an execution that does not exist is logged and dropped', async () => {
    const missing = 987_654_321;
    await e.cp.publishRaw(key(), envelope('ExecutionRequested', { execution_id: missing, worker_id: workerId, action_ref: 'demo_test.echo', config: null }, 'executor'));
    const line = await agent.waitForLog((l) => l.executionId === missing, 10_000);
    expect(line.level).toBe('error');
    expect(String(line.msg)).toContain(`Execution ${missing} does not exist in the database`);
    expect(agent.findLogs((l) => l.executionId === missing)).toHaveLength(1);
    expect(await e.cp.getExecution(missing)).toBeUndefined();
  });

  it('a pinned release whose files are missing: failed, naming the missing path', async () => {
    const ex = await e.cp.createExecution({ actionRef: 'demo_test.echo', workerId, parameters: { message: 'never' } });
    submitted.push(ex.id);
    // Pin the row to a release that was registered but never unpacked onto the packs volume.
    const digest = 'f'.repeat(64);
    const rel = await e.cp.query(
      `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
       VALUES ($1, 'demo_test', '0.0.1-missing', $2, $3, 1, '{}'::jsonb) RETURNING id`,
      [e.demoPack.packId, digest, `${e.packsDir}/.releases/sha256/${digest}/pack`],
    );
    const releaseId = Number(rel.rows[0]?.id);
    await e.cp.query(
      `UPDATE execution SET pack_release = $2, pack_release_digest = $3,
         executable_snapshot = jsonb_set(executable_snapshot, '{release}', jsonb_build_object('id', $2::bigint, 'digest', $3::text, 'content_path', ''))
       WHERE id = $1`,
      [ex.id, releaseId, digest],
    );
    await e.cp.dispatch({ ...ex, releaseId, digest }, workerId);
    await e.cp.waitForCompletions([ex.id], 15_000);
    const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
    const missingPath = `${e.packsDir}/.releases/sha256/${digest}/pack/pack.yaml`;
    expect(row.status).toBe('failed');
    expect(String(row.result?.error)).toContain(missingPath);
    expect(e.cp.completionsFor(ex.id)[0]?.body.payload?.status).toBe('Failed');
    const logged = agent.findLogs((l) => l.executionId === ex.id && l.msg === 'execution could not be prepared');
    expect(logged).toHaveLength(1);
    expect(String(logged[0]?.error)).toContain(missingPath);
  });

  it('after all of that the agent still serves: a normal execution completes', async () => {
    expect(agent.isAlive()).toBe(true);
    const r = await run('demo_test.echo', { message: 'still here' });
    expect(r.row.status).toBe('completed');
    expect(r.result.stdout).toBe('still here\n');
  });
});

describe('concurrency limit (spec 02 §7)', () => {
  it('with max_concurrent_tasks=2 the third dispatch stays scheduled until a slot frees', async () => {
    const { agent: limited, workerId: wid } = await e.startAgent({
      name: e.uniqueName('e2e-conc'),
      env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '2' },
    });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push((await e.submit(wid, { actionRef: 'demo_test.sleep', parameters: { seconds: 2 } })).id);
      const statuses = async (): Promise<string[]> => Promise.all(ids.map(async (id) => String((await e.cp.getExecution(id))?.status)));
      await pollUntil(async () => (await statuses()).filter((s) => s === 'running').length === 2, 10_000, 'two executions running');
      // For the next second: never three running, and one still scheduled.
      let maxRunning = 0;
      const until = Date.now() + 1_000;
      while (Date.now() < until) {
        const s = await statuses();
        maxRunning = Math.max(maxRunning, s.filter((x) => x === 'running').length);
        expect(s.filter((x) => x === 'scheduled')).toHaveLength(1);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(maxRunning).toBe(2);
      await e.cp.waitForCompletions(ids, 20_000);
      for (const id of ids) expect((await e.cp.getExecution(id))?.status).toBe('completed');
      // The last one started only after a completion was published.
      const msgs = e.cp.messages;
      const runningIdx = ids.map((id) => msgs.findIndex((m) => m.routingKey === 'execution.status.changed' && m.body.payload?.execution_id === id && m.body.payload?.new_status === 'running'));
      const firstCompletion = msgs.findIndex((m) => m.routingKey === 'execution.completed' && ids.includes(Number(m.body.payload?.execution_id)));
      expect(runningIdx.every((i) => i >= 0)).toBe(true);
      expect(Math.max(...runningIdx)).toBeGreaterThan(firstCompletion);
      expect([...runningIdx].sort((a, b) => a - b)[1]).toBeLessThan(firstCompletion);
      for (const id of ids) expect(e.cp.completionsFor(id)).toHaveLength(1);
    } finally {
      expect(await limited.stop()).toBe(0);
    }
  });
});

describe('health endpoint (agent.health_port)', () => {
  it('/healthz and /readyz answer 200 once consuming; /metrics counts executions', async () => {
    const port = await unusedPort();
    const { agent: h, workerId: wid } = await e.startAgent({
      name: e.uniqueName('e2e-health'),
      env: { ATTUNE__AGENT__HEALTH_PORT: String(port), ATTUNE__AGENT__HEALTH_HOST: '127.0.0.1' },
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      const healthz = await fetch(`${base}/healthz`);
      expect(healthz.status).toBe(200);
      const readyz = await fetch(`${base}/readyz`);
      expect(readyz.status).toBe(200);
      expect(await readyz.json()).toMatchObject({ ready: true, database: true, messageQueue: true, registered: true, draining: false });

      const ex = await e.submit(wid, { actionRef: 'demo_test.echo', parameters: { message: 'metrics' } });
      await e.cp.waitForCompletions([ex.id], 15_000);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('# TYPE attune_agent_executions_total counter');
      expect(metrics).toMatch(/^attune_agent_executions_total\{status="completed"\} 1$/m);
      // Default metrics still work with prom-client's unused parts left out of the bundle
      // (scripts/build.mjs promClientUnused: processCpuTotal imports @opentelemetry/api).
      expect(metrics).toMatch(/^attune_agent_process_cpu_user_seconds_total \d+(\.\d+)?$/m);
      expect(metrics).toMatch(/^attune_agent_nodejs_heap_size_used_bytes \d+$/m);
    } finally {
      expect(await h.stop()).toBe(0);
    }
  });
});

describe('exactly once (spec 02 §5.4 invariant 2)', () => {
  it('every execution run by this file got exactly one ExecutionCompleted', async () => {
    await new Promise((res) => setTimeout(res, 500));
    const counts = submitted.map((id) => [id, e.cp.completionsFor(id).length]);
    expect(counts.filter(([, n]) => n !== 1)).toEqual([]);
    expect(submitted.length).toBeGreaterThanOrEqual(10);
  });
});
