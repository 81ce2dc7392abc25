import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMqConnection, type MqConnection } from '../../../src/mq/connection';
import { declareCommonInfrastructure, declareWorkerQueues, type ChannelSource } from '../../../src/mq/topology';
import { MqError } from '../../../src/errors';
import { createSilentLogger } from '../../../src/log';
import {
  createCapturingLogger,
  createTestVhost,
  listBindings,
  listQueues,
  type TestVhost,
} from '../../support/amqp';

let vh: TestVhost;
let mq: MqConnection;
const log = createSilentLogger();

beforeAll(async () => {
  vh = await createTestVhost();
  mq = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 5000 });
});

afterAll(async () => {
  await mq?.close();
  await vh?.delete();
});

/** Passes channels through and records how many were open at once. */
function concurrencyProbe(src: ChannelSource): { src: ChannelSource; maxOpen: () => number } {
  let open = 0;
  let max = 0;
  return {
    src: {
      createChannel: async () => {
        const ch = await src.createChannel();
        open++;
        max = Math.max(max, open);
        ch.once('close', () => open--);
        return ch;
      },
    },
    maxOpen: () => max,
  };
}

describe('declareWorkerQueues', () => {
  it('declares the four worker queues with upstream flags and arguments, and their bindings', async () => {
    await declareCommonInfrastructure(mq, log);
    const names = await declareWorkerQueues(mq, 5);
    expect(names).toEqual({
      executions: 'worker.5.executions',
      packs: 'worker.5.packs',
      cancel: 'worker.5.cancel',
      packtests: 'worker.5.packtests',
    });

    const queues = Object.fromEntries((await listQueues(vh.vhost)).map((q) => [q.name, q]));
    expect(queues['worker.5.executions']).toEqual({
      name: 'worker.5.executions',
      durable: true,
      autoDelete: false,
      exclusive: false,
      arguments: '[{"x-dead-letter-exchange","attune.dlx"},{"x-message-ttl",300000}]',
    });
    for (const q of ['worker.5.packs', 'worker.5.cancel', 'worker.5.packtests']) {
      expect(queues[q]).toEqual({ name: q, durable: true, autoDelete: false, exclusive: false, arguments: '[{"x-dead-letter-exchange","attune.dlx"}]' });
    }
    expect(queues['attune.dlx.queue']).toMatchObject({ durable: true, arguments: '[]' });

    const bindings = await listBindings(vh.vhost);
    expect(bindings).toEqual(
      expect.arrayContaining([
        'attune.dlx|attune.dlx.queue|#',
        'attune.executions|worker.5.executions|execution.dispatch.worker.5',
        'attune.events|worker.5.packs|pack.registered',
        'attune.events|worker.5.packs|pack.deleted',
        'attune.executions|worker.5.cancel|execution.cancel.worker.5',
        'attune.executions|worker.5.packtests|pack.test.dispatch.worker.5',
      ]),
    );
  });

  it('is idempotent: re-declaring changes nothing and does not fail', async () => {
    const before = await listQueues(vh.vhost);
    await declareCommonInfrastructure(mq, log);
    await declareWorkerQueues(mq, 5);
    await declareWorkerQueues(mq, 5);
    expect(await listQueues(vh.vhost)).toEqual(before);
  });

  it('fails with MQ_TOPOLOGY naming queue, argument and fix when the queue exists with other arguments', async () => {
    // Pre-create worker.6.executions without the TTL, as an older/foreign declaration might.
    const ch = await mq.createChannel();
    await ch.assertQueue('worker.6.executions', { durable: true, arguments: { 'x-dead-letter-exchange': 'attune.dlx' } });
    await ch.close();

    const err = await declareWorkerQueues(mq, 6).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MqError);
    const e = err as MqError;
    expect(e.code).toBe('MQ_TOPOLOGY');
    expect(e.message).toContain("queue 'worker.6.executions'");
    expect(e.message).toContain(`vhost '${vh.vhost}'`);
    expect(e.message).toContain("different 'x-message-ttl'");
    // Proves the agent encodes the TTL as a signed 32-bit int, as upstream does.
    expect(e.message).toContain("the agent declares the value '300000' of type 'signedint' but the existing queue has none");
    expect(e.message).toMatch(/Delete the queue \(e\.g\. rabbitmqctl delete_queue -p '.+' 'worker\.6\.executions'.*or align its arguments/);

    // The connection survives the 406 (it only closed the throwaway channel).
    expect(mq.isConnected()).toBe(true);
    await expect(declareWorkerQueues(mq, 7)).resolves.toMatchObject({ executions: 'worker.7.executions' });
  });

  it('names the flag when durability differs', async () => {
    const ch = await mq.createChannel();
    await ch.assertQueue('worker.8.packs', { durable: false, autoDelete: false });
    await ch.close();
    const ch2 = await mq.createChannel();
    await ch2.assertQueue('worker.8.executions', {
      durable: true,
      arguments: { 'x-dead-letter-exchange': 'attune.dlx', 'x-message-ttl': 300000 },
    });
    await ch2.close();
    const err = (await declareWorkerQueues(mq, 8).catch((e: unknown) => e)) as MqError;
    expect(err.code).toBe('MQ_TOPOLOGY');
    expect(err.message).toContain("queue 'worker.8.packs'");
    expect(err.message).toContain("different 'durable'");
  });
});

describe('declarations side by side (start-up and every reconnect)', () => {
  it('declares the independent steps at once, each on its own channel', async () => {
    const common = concurrencyProbe(mq);
    await declareCommonInfrastructure(common.src, log);
    // the five exchanges and the DLX queue together; the binding after them
    expect(common.maxOpen()).toBe(6);
    const worker = concurrencyProbe(mq);
    await declareWorkerQueues(worker.src, 11);
    expect(worker.maxOpen()).toBeGreaterThanOrEqual(4);
    const bindings = (await listBindings(vh.vhost)).filter((b) => b.includes('|worker.11.') && !b.startsWith('|'));
    expect(bindings.sort()).toEqual([
      'attune.events|worker.11.packs|pack.deleted',
      'attune.events|worker.11.packs|pack.registered',
      'attune.executions|worker.11.cancel|execution.cancel.worker.11',
      'attune.executions|worker.11.executions|execution.dispatch.worker.11',
      'attune.executions|worker.11.packtests|pack.test.dispatch.worker.11',
    ]);
  });

  it('with several queues refused, names the first in upstream order', async () => {
    const ch = await mq.createChannel();
    await ch.assertQueue('worker.12.packtests', { durable: false, autoDelete: false });
    await ch.assertQueue('worker.12.cancel', { durable: false, autoDelete: false });
    await ch.close();
    const err = (await declareWorkerQueues(mq, 12).catch((e: unknown) => e)) as MqError;
    expect(err).toBeInstanceOf(MqError);
    expect(err.message).toContain("queue 'worker.12.cancel'");
    expect(mq.isConnected()).toBe(true);
  });
});

describe('declareCommonInfrastructure', () => {
  it('only warns when an exchange exists with another type, and declares the rest', async () => {
    const other = await createTestVhost();
    const conn = await createMqConnection({ url: other.url, log, startupTimeoutMs: 5000 });
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange('attune.dlx', 'topic', { durable: true });
      await ch.close();
      const cap = createCapturingLogger();
      await expect(declareCommonInfrastructure(conn, cap.log)).resolves.toBeUndefined();
      const warns = cap.lines.filter((l) => l.level === 40);
      expect(warns).toHaveLength(1);
      expect(String(warns[0]?.msg)).toBe('could not declare exchange attune.dlx; continuing');
      expect(String(warns[0]?.err)).toContain("inequivalent arg 'type' for exchange 'attune.dlx'");
      expect((await listQueues(other.vhost)).map((q) => q.name)).toContain('attune.dlx.queue');
    } finally {
      await conn.close();
      await other.delete();
    }
  });
});
