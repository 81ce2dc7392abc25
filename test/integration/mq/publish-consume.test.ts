import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMqConnection, type MqConnection } from '../../../src/mq/connection';
import { startConsumer, type ConsumerDecision, type Delivery } from '../../../src/mq/consumer';
import { buildEnvelope, parseEnvelope } from '../../../src/mq/messages';
import { createPublisher, MqPublishError, type Publisher } from '../../../src/mq/publisher';
import { declareCommonInfrastructure, declareWorkerQueues } from '../../../src/mq/topology';
import { MqError } from '../../../src/errors';
import { createSilentLogger } from '../../../src/log';
import { createTestVhost, recordMessages, waitUntil, type TestVhost } from '../../support/amqp';

let vh: TestVhost;
let mq: MqConnection;
let pub: Publisher;
const log = createSilentLogger();
let nextWorker = 100;

beforeAll(async () => {
  vh = await createTestVhost();
  mq = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 5000 });
  await declareCommonInfrastructure(mq, log);
  pub = createPublisher(mq, { log });
});

afterAll(async () => {
  await pub?.close();
  await mq?.close();
  await vh?.delete();
});

/** A fresh worker id with declared queues; returns a helper that dispatches numbered messages. */
async function freshWorker(): Promise<{ id: number; queue: string; dispatch: (n: number) => Promise<void> }> {
  const id = nextWorker++;
  const q = await declareWorkerQueues(mq, id);
  const dispatch = (n: number): Promise<void> =>
    pub.publish(
      'attune.executions',
      `execution.dispatch.worker.${id}`,
      buildEnvelope('ExecutionRequested', { execution_id: n, worker_id: id, action_ref: 'core.echo' }, { sourceService: 'executor' }),
    );
  return { id, queue: q.executions, dispatch };
}

function executionId(d: Delivery): number {
  const r = parseEnvelope(d.body);
  if (!r.ok) throw new Error(r.error);
  return r.envelope.payload.execution_id as number;
}

async function messageCount(queue: string): Promise<number> {
  const ch = await mq.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

describe('publisher', () => {
  it('publishes status and completion with upstream properties, routing and body, after the broker confirm', async () => {
    const statusRec = await recordMessages(vh.url, 'attune.executions', 'execution.status.changed');
    const doneRec = await recordMessages(vh.url, 'attune.executions', 'execution.completed');
    try {
      const sent = await pub.publishExecutionStatusChanged({
        executionId: 42,
        actionRef: 'core.echo',
        previousStatus: 'scheduled',
        newStatus: 'running',
        changedAt: new Date('2025-03-14T09:26:53.589Z'),
      });
      const done = await pub.publishExecutionCompleted({
        executionId: 42,
        actionId: 3,
        actionRef: 'core.echo',
        status: 'Completed',
        result: { exit_code: 0 },
        completedAt: new Date(),
      });
      const [m] = await statusRec.waitFor(1);
      expect(m?.json).toEqual(sent);
      expect(m?.content.toString('utf8')).toBe(JSON.stringify(sent));
      expect(m?.fields.exchange).toBe('attune.executions');
      expect(m?.fields.routingKey).toBe('execution.status.changed');
      expect(m?.properties).toMatchObject({
        contentType: 'application/json',
        deliveryMode: 2,
        messageId: sent.message_id,
        correlationId: sent.message_id,
        timestamp: Math.floor(Date.parse(sent.timestamp) / 1000),
      });
      expect(sent.headers).toEqual({ retry_count: 0, source_service: 'worker' });
      const [c] = await doneRec.waitFor(1);
      expect(c?.json).toEqual(done);
      expect(c?.fields.routingKey).toBe('execution.completed');
      expect((c?.json as { payload: unknown }).payload).toMatchObject({ execution_id: 42, action_id: 3, status: 'Completed' });
    } finally {
      await statusRec.close();
      await doneRec.close();
    }
  });

  it('reports a publish to a missing exchange as refused (not delivered) and keeps working afterwards', async () => {
    const env = buildEnvelope('ExecutionCompleted', {}, { sourceService: 'worker' });
    const err = await pub.publish('attune.nope', 'x', env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MqPublishError);
    expect((err as MqPublishError).maybeDelivered).toBe(false);
    expect((err as MqPublishError).message).toContain("no exchange 'attune.nope'");
    const rec = await recordMessages(vh.url, 'attune.executions', 'execution.status.changed');
    try {
      await pub.publish('attune.executions', 'execution.status.changed', env);
      await rec.waitFor(1);
    } finally {
      await rec.close();
    }
  });
});

describe('consumer', () => {
  it('acks, rejects (dropped) and requeues (redelivered) according to the handler decision', async () => {
    const w = await freshWorker();
    const seen: { id: number; redelivered: boolean }[] = [];
    const decide: Record<number, ConsumerDecision> = { 1: 'ack', 2: 'reject', 3: 'requeue' };
    const consumer = await startConsumer(mq, {
      queue: w.queue,
      consumerTag: `worker-${w.id}`,
      prefetch: 5,
      log,
      handler: async (d) => {
        const id = executionId(d);
        seen.push({ id, redelivered: d.redelivered });
        return d.redelivered ? 'ack' : (decide[id] ?? 'ack');
      },
    });
    try {
      for (const n of [1, 2, 3]) await w.dispatch(n);
      await waitUntil(() => seen.length >= 4, 10_000, 'four deliveries');
      await consumer.whenIdle(5000);
      expect(seen.filter((s) => s.id === 1)).toEqual([{ id: 1, redelivered: false }]);
      expect(seen.filter((s) => s.id === 2)).toEqual([{ id: 2, redelivered: false }]);
      expect(seen.filter((s) => s.id === 3)).toEqual([
        { id: 3, redelivered: false },
        { id: 3, redelivered: true },
      ]);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toHaveLength(4);
    } finally {
      await consumer.close();
    }
    expect(await messageCount(w.queue)).toBe(0);
  });

  it('rejects on a plain handler error and requeues on a transient MQ error, without crashing', async () => {
    const w = await freshWorker();
    const calls: number[] = [];
    const consumer = await startConsumer(mq, {
      queue: w.queue,
      consumerTag: `worker-${w.id}`,
      prefetch: 2,
      log,
      requeueDelayMs: 50,
      handler: async (d) => {
        const id = executionId(d);
        calls.push(id);
        if (id === 1) throw new Error('bug in handler');
        if (id === 2 && !d.redelivered) throw new MqError('publish failed: connection closed');
        return 'ack';
      },
    });
    try {
      await w.dispatch(1);
      await w.dispatch(2);
      await waitUntil(() => calls.filter((c) => c === 2).length === 2, 10_000, 'redelivery of message 2');
      await consumer.whenIdle(5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(calls.filter((c) => c === 1)).toHaveLength(1);
      expect(calls.filter((c) => c === 2)).toHaveLength(2);
    } finally {
      await consumer.close();
    }
    expect(await messageCount(w.queue)).toBe(0);
  });

  it('runs handlers concurrently up to the prefetch and settles each when it resolves', async () => {
    const w = await freshWorker();
    let running = 0;
    let maxRunning = 0;
    const gates: (() => void)[] = [];
    const acked: number[] = [];
    const consumer = await startConsumer(mq, {
      queue: w.queue,
      consumerTag: `worker-${w.id}`,
      prefetch: 3,
      log,
      handler: async (d) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        acked.push(executionId(d));
        return 'ack';
      },
    });
    try {
      for (let n = 1; n <= 5; n++) await w.dispatch(n);
      await waitUntil(() => running === 3, 10_000, 'three concurrent handlers');
      await new Promise((r) => setTimeout(r, 300));
      expect(running).toBe(3); // the prefetch holds back the other two
      expect(consumer.inFlight).toBe(3);
      gates.shift()?.(); // finishing one frees one prefetch slot
      await waitUntil(() => running === 3 && acked.length === 1, 10_000, 'a fourth delivery');
      while (acked.length < 5) {
        gates.shift()?.();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(maxRunning).toBe(3);
      expect(acked.sort()).toEqual([1, 2, 3, 4, 5]);
      expect(await consumer.whenIdle(5000)).toBe(true);
    } finally {
      await consumer.close();
    }
    expect(await messageCount(w.queue)).toBe(0);
  });

  it('cancel() stops new deliveries while an in-flight handler still acks', async () => {
    const w = await freshWorker();
    let release: () => void = () => undefined;
    const seen: number[] = [];
    const consumer = await startConsumer(mq, {
      queue: w.queue,
      consumerTag: `worker-${w.id}`,
      prefetch: 1,
      log,
      handler: async (d) => {
        seen.push(executionId(d));
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return 'ack';
      },
    });
    await w.dispatch(1);
    await waitUntil(() => seen.length === 1, 10_000, 'first delivery');
    await consumer.cancel();
    await w.dispatch(2);
    release();
    expect(await consumer.whenIdle(5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([1]);
    await consumer.close();
    // 1 was acked after the cancel (on the still-open channel); 2 waits in the queue.
    expect(await messageCount(w.queue)).toBe(1);
  });

  it('resumes consuming after the broker cancels it (queue deleted and re-declared)', async () => {
    const w = await freshWorker();
    const seen: number[] = [];
    const consumer = await startConsumer(mq, {
      queue: w.queue,
      consumerTag: `worker-${w.id}`,
      prefetch: 1,
      log,
      handler: async (d) => {
        seen.push(executionId(d));
        return 'ack';
      },
    });
    try {
      await w.dispatch(1);
      await waitUntil(() => seen.length === 1, 10_000, 'first delivery');
      const ch = await mq.createChannel();
      await ch.deleteQueue(w.queue);
      await ch.close();
      await declareWorkerQueues(mq, w.id);
      await w.dispatch(2);
      await waitUntil(() => seen.includes(2), 20_000, 'delivery after re-consume');
      expect(seen).toEqual([1, 2]);
      expect(mq.reconnectCount).toBe(0);
    } finally {
      await consumer.close();
    }
  });

  it('fails to start on a missing queue with the broker reason', async () => {
    await expect(
      startConsumer(mq, { queue: 'worker.missing.executions', consumerTag: 't', prefetch: 1, log, handler: async () => 'ack' }),
    ).rejects.toThrow(/NOT_FOUND - no queue 'worker.missing.executions'/);
  });
});
