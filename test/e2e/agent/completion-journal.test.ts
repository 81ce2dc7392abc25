/**
 * No lost completion (issue 17), deterministically: the agent is SIGKILLed after it wrote an
 * execution's final status and before the broker took its ExecutionCompleted (publishing to
 * `attune.executions` is refused on the test vhost meanwhile, so the agent keeps retrying), and is
 * started again on the same volumes: the completion journal makes the new process send exactly
 * one ExecutionCompleted, with the stored result.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeVhostConnections, rabbitmqctl } from '../../support/amqp';
import { createAgentTestEnv, pollUntil, waitForRowStatus, type AgentTestEnv } from '../../support/agent';

let e: AgentTestEnv;
/** The refusal closes the channel: not sent (service retries) or unconfirmed (same envelope again). */
const RETRYING = ['ExecutionCompleted not sent yet; retrying', 'ExecutionCompleted not confirmed; publishing the same envelope again'];

beforeAll(async () => {
  e = await createAgentTestEnv();
});

afterEach(async () => {
  // A failed test must not leave the vhost refusing publishes for the next one.
  await rabbitmqctl('set_permissions', '-p', e.vhost.vhost, 'guest', '.*', '.*', '.*');
});

afterAll(async () => {
  await e?.cleanup();
});

/** Refuse publishing to the exchange completions (and dispatches) go to. */
async function refuseCompletions(): Promise<void> {
  await rabbitmqctl('set_permissions', '-p', e.vhost.vhost, 'guest', '.*', '^(?!attune\\.executions$).*', '.*');
  // Channels cache successful permission checks: make everyone reconnect under the new ones. The
  // test's recorder is bound again now, so nothing published later can slip past it.
  await closeVhostConnections(e.vhost.vhost, 'test: permissions changed');
  await e.reconnectControlPlane();
}

/** Allow it again: new channels (every refused publish closed its channel) check afresh. */
async function acceptCompletions(): Promise<void> {
  await rabbitmqctl('set_permissions', '-p', e.vhost.vhost, 'guest', '.*', '.*', '.*');
}

describe('completion journal across an agent SIGKILL', () => {
  it('sends exactly one ExecutionCompleted after a restart when the agent died between the final status and the completion', async () => {
    const name = e.uniqueName('e2e-journal');
    const first = await e.startAgent({ name });
    const ex = await e.submit(first.workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 2 } });
    await waitForRowStatus(e.cp, ex.id, ['running']);
    await refuseCompletions();

    // The final status is written; the completion cannot be published and is being retried.
    const row = await waitForRowStatus(e.cp, ex.id, ['completed'], 30_000);
    await first.agent.waitForLog((l) => RETRYING.includes(String(l.msg)) && l.executionId === ex.id, 30_000);
    first.agent.kill();
    await first.agent.exited;
    await acceptCompletions();
    expect(e.cp.completionsFor(ex.id)).toHaveLength(0);

    const second = await e.startAgent({ name });
    expect(second.workerId).toBe(first.workerId);
    await e.cp.waitForCompletions([ex.id], 30_000);
    // New message if the killed process never handed it out; else its recorded envelope again.
    const resent = second.agent.findLogs(/^ExecutionCompleted (sent|published again) after restart/);
    expect(resent.map((l) => l.executionId)).toEqual([ex.id]);
    // Nothing else arrives later, and the message carries the stored row.
    await new Promise((r) => setTimeout(r, 1500));
    const completions = e.cp.completionsFor(ex.id);
    expect(completions).toHaveLength(1);
    expect(completions[0]!.body.payload).toMatchObject({ execution_id: ex.id, status: 'Completed', result: row.result });
    expect(e.cp.statusMessagesFor(ex.id).map((m) => m.body.payload?.new_status)).toEqual(['completed']);

    // A third start has nothing left to send.
    expect(await second.agent.stop()).toBe(0);
    const third = await e.startAgent({ name });
    expect(third.agent.findLogs(/completion journal replayed/)[0]).toMatchObject({ resent: 0 });
    expect(await third.agent.stop()).toBe(0);
    expect(e.cp.completionsFor(ex.id)).toHaveLength(1);
  });
});

// Guard the premise the test relies on: without the replay the completion is lost.
describe('premise', () => {
  it('the refused exchange really stops completions', async () => {
    const { agent, workerId } = await e.startAgent();
    // Dispatches go through the same exchange: refuse only once the execution runs.
    const ex = await e.submit(workerId, { actionRef: 'demo_test.sleep', parameters: { seconds: 2 } });
    await waitForRowStatus(e.cp, ex.id, ['running']);
    await refuseCompletions();
    await waitForRowStatus(e.cp, ex.id, ['completed'], 30_000);
    await pollUntil(() => agent.findLogs((l) => RETRYING.includes(String(l.msg))).length > 0, 15_000, 'a refused completion');
    expect(e.cp.completionsFor(ex.id)).toHaveLength(0);
    await acceptCompletions();
    // Once the broker accepts again, the live retry delivers it (still exactly one).
    await e.cp.waitForCompletions([ex.id], 30_000);
    expect(e.cp.completionsFor(ex.id)).toHaveLength(1);
    expect(await agent.stop()).toBe(0);
  });
});
