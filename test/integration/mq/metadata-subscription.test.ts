/**
 * The metadata-invalidation queue on a real broker (spec 07 §2.1): server-named, non-durable,
 * exclusive, auto-delete, no arguments, the three `metadata.*.changed` bindings, tag
 * `worker-<id>-metadata`; a new session (new queue) 2 s after its channel dies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMqConnection, type MqConnection } from '../../../src/mq/connection';
import type { Delivery } from '../../../src/mq/consumer';
import { startMetadataSubscription, type MetadataSubscription } from '../../../src/mq/metadata-subscription';
import { declareCommonInfrastructure } from '../../../src/mq/topology';
import { createSilentLogger } from '../../../src/log';
import { closeVhostConnections, createTestVhost, listBindings, listQueues, rabbitmqctl, waitUntil, type TestVhost } from '../../support/amqp';

const log = createSilentLogger();
let vh: TestVhost;
let mq: MqConnection;
let sub: MetadataSubscription;
const seen: Delivery[] = [];

beforeAll(async () => {
  vh = await createTestVhost();
  mq = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 10_000, reconnectBaseMs: 50, reconnectMaxMs: 200 });
  await declareCommonInfrastructure(mq, log);
  sub = startMetadataSubscription(mq, { workerId: 31, log, restartDelayMs: 200, handler: async (d) => (seen.push(d), 'ack') });
});

afterAll(async () => {
  await sub?.close();
  await mq?.close();
  await vh?.delete();
});

async function publish(routingKey: string): Promise<void> {
  const ch = await mq.createChannel();
  ch.publish('attune.metadata', routingKey, Buffer.from(`{"k":"${routingKey}"}`));
  await ch.close();
}

describe('metadata subscription', () => {
  it('declares a server-named exclusive auto-delete queue with the three bindings and the worker tag', async () => {
    const q = await sub.whenConsuming();
    expect(q).toMatch(/^amq\.gen-/);
    const info = (await listQueues(vh.vhost)).find((x) => x.name === q);
    expect(info).toMatchObject({ durable: false, exclusive: true, autoDelete: true, arguments: '[]' });
    const bindings = (await listBindings(vh.vhost)).filter((b) => b.startsWith(`attune.metadata|${q}|`)).sort();
    expect(bindings).toEqual(['metadata.action.changed', 'metadata.pack.changed', 'metadata.runtime.changed'].map((k) => `attune.metadata|${q}|${k}`));
    const consumers = await rabbitmqctl('list_consumers', '-p', vh.vhost, '--no-table-headers', 'queue_name', 'consumer_tag', 'prefetch_count', 'ack_required');
    // Column order varies by broker version; ack_required true = manual ack (exclusivity is not listed).
    const line = consumers.split('\n').find((l) => l.startsWith(`${q}\t`));
    expect(line?.split('\t').slice(1).sort()).toEqual(['32', 'true', 'worker-31-metadata'].sort());
  });

  it('delivers the bound keys and not others (metadata.trigger.changed is not bound)', async () => {
    await publish('metadata.runtime.changed');
    await publish('metadata.trigger.changed');
    await publish('metadata.pack.changed');
    await waitUntil(() => seen.length >= 2, 10_000, 'two metadata deliveries');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.map((d) => d.routingKey)).toEqual(['metadata.runtime.changed', 'metadata.pack.changed']);
  });

  it('after the connection is lost it starts over with a new queue', async () => {
    const first = await sub.whenConsuming();
    await closeVhostConnections(vh.vhost);
    await waitUntil(async () => sub.queue !== null && sub.queue !== first, 20_000, 'a new metadata queue');
    const second = await sub.whenConsuming();
    const names = (await listQueues(vh.vhost)).map((x) => x.name);
    expect(names).toContain(second);
    expect(names).not.toContain(first);
    const before = seen.length;
    await publish('metadata.action.changed');
    await waitUntil(() => seen.length === before + 1, 10_000, 'delivery on the new queue');
  });
});
