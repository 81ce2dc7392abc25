/**
 * The real bundle under disturbance: the broker closing its connection mid-run, SIGTERM with
 * work in flight (spec 01 §7.2 + our abandon step), and start-up recovery of executions a
 * previous process left `running`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeVhostConnections } from '../../support/amqp';
import {
  createAgentTestEnv,
  createDurableRecorder,
  pollUntil,
  TERMINAL,
  waitForRowStatus,
  type AgentTestEnv,
} from '../../support/agent';

let e: AgentTestEnv;

beforeAll(async () => {
  e = await createAgentTestEnv();
});

afterAll(async () => {
  await e?.cleanup();
});

/** pids of every descendant of `pid` (from `ps`), e.g. the action's shell and its `sleep`. */
function descendants(pid: number): { pid: number; args: string }[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const rows = out
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? '' }));
  const found: { pid: number; args: string }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const r of rows) {
      if (r.ppid === p) {
        found.push({ pid: r.pid, args: r.args });
        queue.push(r.pid);
      }
    }
  }
  return found;
}

/** Running (not gone, not a zombie waiting to be reaped by PID 1). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('broker connection closed mid-run (spec 02 §1.4, §6)', () => {
  it('20 executions in flight/queued all finish: none lost, none completed twice', async () => {
    const { agent, workerId } = await e.startAgent({
      name: e.uniqueName('e2e-reconnect'),
      env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '6' },
    });
    // A durable recorder: the control plane's own exclusive queue dies with its connection.
    const recorder = await createDurableRecorder(e.vhost.url, [{ exchange: 'attune.executions', routingKey: 'execution.completed' }]);
    try {
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) {
        ids.push((await e.submit(workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 1 + (i % 2) } })).id);
      }
      // Close while some run and the rest wait (6 running, 2 more prefetched, 12 in the queue).
      await pollUntil(async () => {
        const r = await e.cp.query(`SELECT count(*)::int AS n FROM execution WHERE id = ANY($1) AND status = 'running'`, [ids]);
        return (r.rows[0]?.n as number) >= 6;
      }, 15_000, 'six executions running');
      await new Promise((r) => setTimeout(r, 500));
      await closeVhostConnections(e.vhost.vhost, 'e2e: broker closes connections mid-run');
      await agent.waitForLog('RabbitMQ connection re-established', 30_000);
      await e.reconnectControlPlane();

      const rows = await pollUntil(async () => {
        const r = await e.cp.query(`SELECT id, status FROM execution WHERE id = ANY($1)`, [ids]);
        return r.rows.every((x) => TERMINAL.has(String(x.status))) ? r.rows : undefined;
      }, 60_000, 'all 20 executions to reach a terminal status');
      const completions = await pollUntil(async () => {
        const msgs = await recorder.drain();
        return new Set(msgs.map((m) => m.body.payload?.execution_id)).size >= 20 ? msgs : undefined;
      }, 20_000, 'a completion for each of the 20 executions').catch(async () => recorder.drain());
      await new Promise((r) => setTimeout(r, 1_000));
      const all = await recorder.drain();
      // Distinct envelopes per execution: the same message_id published again (its confirm
      // was lost with the connection) is a redelivery, which consumers deduplicate, not a
      // second completion (the chaos soak counts them the same way).
      const perId = new Map<number, Set<string>>(ids.map((id) => [id, new Set<string>()]));
      let redeliveries = 0;
      for (const m of all) {
        const set = perId.get(Number(m.body.payload?.execution_id));
        if (!set) continue;
        const messageId = String(m.body.message_id);
        if (set.has(messageId)) redeliveries++;
        set.add(messageId);
      }
      const notTerminal = rows.filter((r) => !TERMINAL.has(String(r.status))).length;
      const lost = [...perId.values()].filter((m) => m.size === 0).length;
      const duplicated = [...perId.values()].filter((m) => m.size > 1).length;
      const starts = new Map<number, number>();
      for (const l of agent.findLogs('execution started')) starts.set(Number(l.executionId), (starts.get(Number(l.executionId)) ?? 0) + 1);
      const ranTwice = [...starts.values()].filter((n) => n > 1).length;
      console.log(`reconnect: ${ids.length} executions, lost ${lost}, duplicated ${duplicated}, same envelope again ${redeliveries} (runs started twice: ${ranTwice}, not terminal: ${notTerminal}, completion messages: ${completions.length})`);
      expect(notTerminal).toBe(0);
      expect(rows.map((r) => r.status)).toEqual(ids.map(() => 'completed'));
      expect(lost).toBe(0);
      expect(duplicated).toBe(0);
      expect(ranTwice).toBe(0);
      expect(agent.isAlive()).toBe(true);
    } finally {
      await recorder.delete().catch(() => undefined);
      expect(await agent.stop()).toBe(0);
    }
  });
});

describe('SIGTERM with work in flight (spec 01 §7.2)', () => {
  it('drains: three 2 s executions finish completed and the agent exits 0', async () => {
    const { agent, workerId } = await e.startAgent({
      name: e.uniqueName('e2e-drain'),
      env: { ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '10' },
    });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await e.submit(workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 2 } })).id);
    for (const id of ids) await waitForRowStatus(e.cp, id, ['running'], 10_000);
    const code = await agent.stop(30_000);
    expect(code).toBe(0);
    for (const id of ids) {
      expect((await e.cp.getExecution(id))?.status).toBe('completed');
      expect(e.cp.completionsFor(id).map((m) => m.body.payload?.status)).toEqual(['Completed']);
    }
    expect((await e.cp.getWorkerByName(agent.name))?.status).toBe('inactive');
  });

  it('shutdown_timeout runs out: the 30 s action is abandoned, Abandoned is published, no orphan process', async () => {
    const { agent, workerId } = await e.startAgent({
      name: e.uniqueName('e2e-abandon'),
      env: { ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '1' },
    });
    const ex = await e.submit(workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 30 } });
    await waitForRowStatus(e.cp, ex.id, ['running'], 10_000);
    const children = await pollUntil(() => {
      const d = descendants(agent.pid);
      return d.some((p) => /^sleep 30$/.test(p.args)) ? d : undefined;
    }, 10_000, 'the action\'s sleep process');
    const started = Date.now();
    const code = await agent.stop(30_000);
    const tookMs = Date.now() - started;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(15_000);
    const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
    expect(row.status).toBe('abandoned');
    expect(String(row.result?.error)).toContain('shutdown_timeout');
    await e.cp.waitForCompletions([ex.id], 5_000);
    expect(e.cp.completionsFor(ex.id).map((m) => m.body.payload?.status)).toEqual(['Abandoned']);
    // A killed child may linger a moment until it is reaped; a real orphan would run for 30 s.
    const orphans = await pollUntil(() => {
      const left = children.filter((p) => isRunning(p.pid));
      return left.length === 0 ? left : undefined;
    }, 5_000, 'the action processes to be gone').catch(() => children.filter((p) => isRunning(p.pid)));
    expect(orphans, JSON.stringify(orphans)).toEqual([]);
  });
});

describe('start-up recovery', () => {
  it('an execution left running by a previous process is marked abandoned with one Abandoned completion', async () => {
    const name = e.uniqueName('e2e-recover');
    const first = await e.startAgent({ name });
    expect(await first.agent.stop()).toBe(0);
    const ex = await e.cp.createExecution({ actionRef: 'demo_test.sleep', workerId: first.workerId, parameters: { seconds: 30 }, status: 'running' });

    const second = await e.startAgent({ name });
    try {
      expect(second.workerId).toBe(first.workerId);
      const row = await waitForRowStatus(e.cp, ex.id, ['abandoned'], 10_000);
      expect(String(row.result?.error)).toMatch(/restarted/);
      expect(String(row.result?.error)).toContain(name);
      await e.cp.waitForCompletions([ex.id], 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(e.cp.completionsFor(ex.id).map((m) => m.body.payload?.status)).toEqual(['Abandoned']);
      const line = second.agent.findLogs('executions left running by a previous agent process were marked abandoned');
      expect(line).toHaveLength(1);
      expect(line[0]?.count).toBe(1);
    } finally {
      expect(await second.agent.stop()).toBe(0);
    }
  });
});
