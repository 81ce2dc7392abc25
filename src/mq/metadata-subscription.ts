/**
 * The ephemeral metadata-invalidation queue (spec 07 §2.1, upstream
 * `start_metadata_invalidation_consumer` / `create_ephemeral_topic_consumer`): a server-named
 * queue (durable=false, exclusive, auto-delete, no arguments) bound to `attune.metadata` with
 * the three `metadata.*.changed` keys, consumed with tag `worker-<id>-metadata`, prefetch 32,
 * manual ack, exclusive consumer. When the channel dies it waits 2 s and starts over with a
 * new queue; events sent meanwhile are lost, as upstream. Difference: it uses the agent's
 * supervised connection instead of a second AMQP connection of its own.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { toError } from '../errors';
import type { Logger } from '../log';
import { sleep } from '../util/sleep';
import type { MqConnection } from './connection';
import type { ConsumerDecision, Delivery } from './consumer';
import { CONSUMER_PREFETCH, EXCHANGES, METADATA_BINDING_KEYS, workerConsumerTags } from './routing';

/** spec 07 §2.1: pause before a new session. */
export const METADATA_RESTART_DELAY_MS = 2000;

export interface MetadataSubscriptionOptions {
  workerId: number;
  handler: (d: Delivery) => Promise<ConsumerDecision>;
  log: Logger;
  restartDelayMs?: number;
}

export interface MetadataSubscription {
  /** The current server-named queue (null between sessions). */
  readonly queue: string | null;
  /** Resolves once a session is consuming (tests). */
  whenConsuming(): Promise<string>;
  close(): Promise<void>;
}

export function startMetadataSubscription(mq: MqConnection, opts: MetadataSubscriptionOptions): MetadataSubscription {
  const log = opts.log.child({ component: 'metadata' });
  const stop = new AbortController();
  const tag = workerConsumerTags(opts.workerId).metadata;
  let channel: Channel | null = null;
  let queue: string | null = null;
  let waiters: ((q: string) => void)[] = [];

  const session = async (): Promise<void> => {
    await mq.waitForConnection(24 * 3600_000, stop.signal);
    const ch = await mq.createChannel();
    const closed = new Promise<void>((resolve) => ch.on('close', () => resolve()));
    channel = ch;
    try {
      const q = await ch.assertQueue('', { durable: false, exclusive: true, autoDelete: true });
      for (const key of METADATA_BINDING_KEYS) await ch.bindQueue(q.queue, EXCHANGES.metadata, key);
      await ch.prefetch(CONSUMER_PREFETCH.metadata, false);
      await ch.consume(q.queue, (m) => void onMessage(ch, m), { noAck: false, exclusive: true, consumerTag: tag });
      queue = q.queue;
      log.info({ queue: q.queue, consumerTag: tag }, 'consuming metadata invalidations');
      for (const w of waiters) w(q.queue);
      waiters = [];
    } catch (e) {
      await ch.close().catch(() => undefined);
      throw e;
    }
    await closed;
  };

  const onMessage = async (ch: Channel, m: ConsumeMessage | null): Promise<void> => {
    if (m === null) {
      await ch.close().catch(() => undefined);
      return;
    }
    const d: Delivery = { body: m.content, redelivered: m.fields.redelivered, deliveryTag: m.fields.deliveryTag, routingKey: m.fields.routingKey, exchange: m.fields.exchange };
    let decision: ConsumerDecision;
    try {
      decision = await opts.handler(d);
    } catch (e) {
      log.error({ err: toError(e).message }, 'metadata invalidation handler failed; rejected');
      decision = 'reject';
    }
    try {
      if (decision === 'ack') ch.ack(m);
      else ch.nack(m, false, decision === 'requeue');
    } catch {
      // Channel gone: the queue was exclusive and is gone with it.
    }
  };

  void (async () => {
    while (!stop.signal.aborted) {
      try {
        await session();
        if (!stop.signal.aborted) log.warn('metadata invalidation channel closed; starting a new session');
      } catch (e) {
        if (!stop.signal.aborted) log.warn({ err: toError(e).message }, 'metadata invalidation session failed; retrying');
      }
      channel = null;
      queue = null;
      await sleep(opts.restartDelayMs ?? METADATA_RESTART_DELAY_MS, stop.signal);
    }
  })();

  return {
    get queue() {
      return queue;
    },
    whenConsuming() {
      return queue !== null ? Promise.resolve(queue) : new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      stop.abort();
      const ch = channel as Channel | null;
      channel = null;
      if (ch) await ch.close().catch(() => undefined);
    },
  };
}
