import { describe, expect, it } from 'vitest';
import { createMqConnection, type MqConnection } from '../../../src/mq/connection';
import { startConsumer } from '../../../src/mq/consumer';
import { buildEnvelope, parseEnvelope } from '../../../src/mq/messages';
import { createPublisher } from '../../../src/mq/publisher';
import { declareCommonInfrastructure, declareWorkerQueues } from '../../../src/mq/topology';
import { MqError } from '../../../src/errors';
import { createSilentLogger } from '../../../src/log';
import {
  closeVhostConnections,
  countVhostConnections,
  createCapturingLogger,
  createTcpProxy,
  testBrokerHostPort,
  unusedPort,
  useTestVhost,
  waitUntil,
  withHostPort,
} from '../../support/amqp';

const vh = useTestVhost();
const log = createSilentLogger();

function executionIdOf(body: Buffer): number {
  const r = parseEnvelope(body);
  if (!r.ok) throw new Error(r.error);
  return r.envelope.payload.execution_id as number;
}

/** Connection + topology re-declared on every reconnect, as the agent wires it. */
async function connectWithTopology(url: string, workerId: number): Promise<MqConnection> {
  const mq = await createMqConnection({ url, log, startupTimeoutMs: 5000 });
  const setup = async (): Promise<void> => {
    await declareCommonInfrastructure(mq, log);
    await declareWorkerQueues(mq, workerId);
  };
  mq.onConnect(setup);
  await setup();
  return mq;
}

describe('reconnection', () => {
  it('survives close_all_connections mid-stream: resumes consuming, redelivers unacked, loses nothing', async () => {
    const mq = await connectWithTopology(vh.url, 1);
    const pub = createPublisher(mq, { log });
    const events: string[] = [];
    mq.on('disconnected', () => events.push('disconnected'));
    mq.on('reconnected', () => events.push('reconnected'));
    let markKilled: () => void = () => undefined;
    const killed = new Promise<void>((resolve) => {
      markKilled = resolve;
    });
    const HELD = new Set([70, 71, 72, 73, 74, 75, 76, 77, 78, 79]);
    const brokerAcks = new Map<number, number>();
    const skipped: number[] = [];
    const redelivered = new Set<number>();
    const heldWaiting = new Set<number>();
    const decisions = new Set<string>();
    const consumer = await startConsumer(mq, {
      queue: 'worker.1.executions',
      consumerTag: 'worker-1',
      prefetch: 12,
      log,
      handler: async (d) => {
        const id = executionIdOf(d.body);
        if (d.redelivered) redelivered.add(id);
        // Hold 70..79 unacked across the kill so the broker must redeliver them.
        if (HELD.has(id) && !d.redelivered) {
          heldWaiting.add(id);
          await killed;
        }
        await new Promise((res) => setTimeout(res, Math.random() * 10));
        return 'ack';
      },
      onSettled: (d, decision, sent) => {
        const id = executionIdOf(d.body);
        decisions.add(decision);
        if (sent) brokerAcks.set(id, (brokerAcks.get(id) ?? 0) + 1);
        else skipped.push(id);
      },
    });
    try {
      for (let n = 1; n <= 200; n++) {
        if (n === 80) {
          await waitUntil(() => heldWaiting.size === HELD.size && consumer.inFlight === HELD.size, 10_000, 'only the held messages in flight');
          await closeVhostConnections(vh.vhost, 'test kill');
          await waitUntil(() => events.includes('disconnected'), 10_000, 'the client to see the kill');
          markKilled();
        }
        // Publishes 80.. start while disconnected: they wait for the reconnection (never sent twice).
        const env = buildEnvelope('ExecutionRequested', { execution_id: n, worker_id: 1, action_ref: 'a.b' }, { sourceService: 'executor' });
        await pub.publish('attune.executions', 'execution.dispatch.worker.1', env);
      }
      await waitUntil(() => brokerAcks.size === 200, 60_000, 'all 200 messages acked');
      await consumer.whenIdle(10_000);
      expect(events).toEqual(['disconnected', 'reconnected']);
      expect(mq.reconnectCount).toBe(1);
      expect([...brokerAcks.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      // The held deliveries' acks were skipped (their channel had died), then redelivered.
      expect(skipped.sort((a, b) => a - b)).toEqual([...HELD]);
      for (const id of HELD) expect(redelivered.has(id)).toBe(true);
      // Each message acked exactly once on a live channel (no double ack, no unknown tag).
      expect([...decisions]).toEqual(['ack']);
      expect([...brokerAcks.values()].every((c) => c === 1)).toBe(true);
      const ch = await mq.createChannel();
      expect((await ch.checkQueue('worker.1.executions')).messageCount).toBe(0);
      await ch.close();
      expect(await countVhostConnections(vh.vhost)).toBe(1);
    } finally {
      await consumer.close();
      await pub.close();
      await mq.close();
    }
  });

  it('a publish attempted while disconnected waits for the reconnection and succeeds', async () => {
    const mq = await connectWithTopology(vh.url, 2);
    const pub = createPublisher(mq, { log });
    try {
      let pending: Promise<void> | null = null;
      const sawDisconnected = new Promise<void>((resolve) =>
        mq.once('disconnected', () => {
          expect(mq.isConnected()).toBe(false);
          const env = buildEnvelope('ExecutionRequested', { execution_id: 7, worker_id: 2, action_ref: 'a.b' }, { sourceService: 'executor' });
          pending = pub.publish('attune.executions', 'execution.dispatch.worker.2', env, { connectTimeoutMs: 20_000 });
          resolve();
        }),
      );
      await closeVhostConnections(vh.vhost, 'test kill');
      await sawDisconnected;
      await expect(pending).resolves.toBeUndefined();
      expect(mq.isConnected()).toBe(true);
      const ch = await mq.createChannel();
      const got = await ch.get('worker.2.executions', { noAck: true });
      await ch.close();
      expect(got && JSON.parse(got.content.toString()).payload.execution_id).toBe(7);
    } finally {
      await pub.close();
      await mq.close();
    }
  });

  it('reconnects after a network cut and keeps retrying while the broker is unreachable', async () => {
    const { host, port } = testBrokerHostPort();
    const proxy = await createTcpProxy(host, port);
    const cap = createCapturingLogger();
    const url = withHostPort(vh.url, '127.0.0.1', proxy.port);
    const mq = await createMqConnection({ url, log: cap.log, startupTimeoutMs: 5000, reconnectMaxMs: 400 });
    const received: number[] = [];
    await declareWorkerQueues(mq, 3).catch(async () => {
      await declareCommonInfrastructure(mq, log);
      await declareWorkerQueues(mq, 3);
    });
    const consumer = await startConsumer(mq, {
      queue: 'worker.3.cancel',
      consumerTag: 'worker-3-cancel',
      prefetch: 10,
      log,
      handler: async (d) => {
        received.push(executionIdOf(d.body));
        return 'ack';
      },
    });
    const pub = createPublisher(mq, { log });
    try {
      proxy.setRefusing(true);
      proxy.cut();
      await waitUntil(() => !mq.isConnected(), 5000, 'disconnect');
      await new Promise((r) => setTimeout(r, 1500)); // several failed attempts
      expect(cap.lines.filter((l) => l.msg === 'RabbitMQ reconnect attempt failed').length).toBeGreaterThanOrEqual(2);
      proxy.setRefusing(false);
      await waitUntil(() => mq.isConnected(), 10_000, 'reconnect');
      const env = buildEnvelope('ExecutionCancelRequested', { execution_id: 9, worker_id: 3 }, { sourceService: 'api-service' });
      await pub.publish('attune.executions', 'execution.cancel.worker.3', env);
      await waitUntil(() => received.includes(9), 10_000, 'cancel delivered after reconnect');
      expect(mq.reconnectCount).toBe(1);
      expect(cap.text()).not.toContain('guest:guest');
    } finally {
      await consumer.close();
      await pub.close();
      await mq.close();
      await proxy.close();
    }
  });

  it('close() closes cleanly and never reconnects afterwards', async () => {
    const mq = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 5000 });
    let reconnected = false;
    mq.on('reconnected', () => {
      reconnected = true;
    });
    await mq.close();
    await mq.close(); // idempotent
    expect(mq.isConnected()).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(reconnected).toBe(false);
    expect(await countVhostConnections(vh.vhost)).toBe(0);
    await expect(mq.waitForConnection(100)).rejects.toThrow(/closed/);
  });
});

describe('startup connect', () => {
  it('fails after the startup timeout with MQ_UNREACHABLE naming host:port/vhost, never the password', async () => {
    const port = await unusedPort();
    const started = Date.now();
    const err = await createMqConnection({
      url: `amqp://guest:s3cret-pw@127.0.0.1:${port}/${vh.vhost}`,
      log,
      startupTimeoutMs: 1500,
    }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(MqError);
    expect((err as MqError).code).toBe('MQ_UNREACHABLE');
    expect((err as MqError).message).toContain(`Cannot connect to RabbitMQ at 127.0.0.1:${port}/${vh.vhost}`);
    expect((err as MqError).message).toMatch(/gave up after \d+ attempt\(s\) in 2 s/);
    expect((err as MqError).message).not.toContain('s3cret-pw');
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('keeps retrying until the broker becomes reachable within the startup timeout', async () => {
    const { host, port } = testBrokerHostPort();
    const listenPort = await unusedPort();
    let proxy: Awaited<ReturnType<typeof createTcpProxy>> | null = null;
    const timer = setTimeout(() => {
      void createTcpProxy(host, port, listenPort).then((p) => {
        proxy = p;
      });
    }, 1000);
    try {
      const mq = await createMqConnection({ url: withHostPort(vh.url, '127.0.0.1', listenPort), log, startupTimeoutMs: 15_000 });
      expect(mq.isConnected()).toBe(true);
      await mq.close();
    } finally {
      clearTimeout(timer);
      await (proxy as { close(): Promise<void> } | null)?.close();
    }
  });

  it('fails fast when the broker refuses the credentials', async () => {
    const started = Date.now();
    const err = (await createMqConnection({
      url: withHostPort(vh.url.replace('guest:guest', 'guest:wrong-pw'), testBrokerHostPort().host, testBrokerHostPort().port),
      log,
      startupTimeoutMs: 30_000,
    }).catch((e: unknown) => e)) as MqError;
    expect(err.code).toBe('MQ_UNREACHABLE');
    expect(err.message).toContain('refused the credentials');
    expect(err.message).not.toContain('wrong-pw');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
