/**
 * A manual-ack consumer that survives reconnections (spec 02 §1.4, §6).
 *
 * Difference from upstream (strictly one delivery at a time): the handler of every delivery
 * starts as soon as it arrives, so up to `prefetch` handlers run concurrently; each delivery is
 * acked/nacked when its own handler resolves. This lets the execution flow ack a dispatch once
 * its DB state is durable while the action keeps running, with concurrency bounded by the
 * caller (its semaphore) and by the prefetch.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { toError } from '../errors';
import type { Logger } from '../log';
import { backoffDelayMs } from '../util/backoff';
import { sleep } from '../util/sleep';
import type { MqConnection } from './connection';
import { isRetriableError } from './retriable';

export type ConsumerDecision = 'ack' | 'reject' | 'requeue';

export interface Delivery {
  body: Buffer;
  redelivered: boolean;
  deliveryTag: number;
  routingKey: string;
  exchange: string;
  /** AMQP `message_id` property, if the producer set one (consumers use the body, spec 02 §3). */
  messageId?: string;
}

export interface ConsumerOptions {
  queue: string;
  consumerTag: string;
  prefetch: number;
  /** Resolve with the decision as soon as it is known; a throw is logged and nacked (see below). */
  handler: (msg: Delivery) => Promise<ConsumerDecision>;
  log: Logger;
  exclusive?: boolean;
  /** Delay before requeueing after a retriable handler error (avoids a hot redelivery loop). */
  requeueDelayMs?: number;
  /** Observer (metrics, tests): `sent` is false when the channel had died and the broker redelivers. */
  onSettled?: (msg: Delivery, decision: ConsumerDecision, sent: boolean) => void;
}

export interface Consumer {
  readonly queue: string;
  readonly consumerTag: string;
  /** Deliveries whose handler has not resolved yet. */
  readonly inFlight: number;
  /** basic.cancel: stop taking new deliveries; in-flight handlers still ack. Idempotent. */
  cancel(): Promise<void>;
  /** Resolves once no handler is running (or after `timeoutMs`; returns false then). */
  whenIdle(timeoutMs?: number): Promise<boolean>;
  /** cancel(), wait for in-flight handlers up to `timeoutMs`, close the channel. */
  close(timeoutMs?: number): Promise<void>;
}

interface ChannelState {
  ch: Channel;
  closed: boolean;
}

/**
 * Start consuming `queue`. Throws if the first basic.consume fails while connected (e.g. queue
 * missing); after that, channel/connection losses are recovered with backoff until `cancel()`.
 */
export async function startConsumer(mq: MqConnection, opts: ConsumerOptions): Promise<Consumer> {
  const c = new RecoveringConsumer(mq, opts);
  await c.start();
  return c;
}

class RecoveringConsumer implements Consumer {
  readonly queue: string;
  readonly consumerTag: string;
  inFlight = 0;
  private readonly log: Logger;
  private state: ChannelState | null = null;
  private cancelled = false;
  private ensuring: Promise<void> | null = null;
  private recoveryAttempt = 0;
  private recoveryScheduled = false;
  private readonly abort = new AbortController();
  private readonly idleWaiters = new Set<() => void>();
  private readonly unregister: () => void;

  constructor(
    private readonly mq: MqConnection,
    private readonly opts: ConsumerOptions,
  ) {
    this.queue = opts.queue;
    this.consumerTag = opts.consumerTag;
    this.log = opts.log.child({ queue: opts.queue, consumerTag: opts.consumerTag });
    this.unregister = mq.onConnect(async () => {
      this.recoveryAttempt = 0;
      try {
        await this.ensureConsuming();
      } catch (e) {
        this.log.warn({ err: toError(e).message }, 'could not resume consuming after reconnect');
        this.scheduleRecovery();
      }
    });
  }

  async start(): Promise<void> {
    try {
      await this.ensureConsuming();
    } catch (e) {
      this.unregister();
      throw e;
    }
  }

  /** Open a channel, set qos and consume, unless already consuming on an open channel. */
  private ensureConsuming(): Promise<void> {
    this.ensuring ??= this.consumeOnce().finally(() => {
      this.ensuring = null;
    });
    return this.ensuring;
  }

  private async consumeOnce(): Promise<void> {
    if (this.cancelled || (this.state && !this.state.closed)) return;
    if (!this.mq.isConnected()) return; // the connection's onConnect hook will call us again
    const ch = await this.mq.createChannel();
    const st: ChannelState = { ch, closed: false };
    ch.on('close', () => this.onChannelClosed(st));
    try {
      // spec 02 §1.3: qos(prefetch, global=false) on the consumer's own channel.
      await ch.prefetch(this.opts.prefetch, false);
      this.state = st;
      await ch.consume(this.queue, (m) => this.onMessage(st, m), {
        noAck: false,
        exclusive: this.opts.exclusive ?? false,
        consumerTag: this.consumerTag,
      });
    } catch (e) {
      if (this.state === st) this.state = null;
      if (!st.closed) await ch.close().catch(() => undefined);
      throw e;
    }
    this.recoveryAttempt = 0;
    this.log.info({ prefetch: this.opts.prefetch }, 'consuming');
  }

  private onChannelClosed(st: ChannelState): void {
    st.closed = true;
    if (this.state !== st) return;
    this.state = null;
    if (!this.cancelled) {
      this.log.warn('consumer channel closed; will resume consuming');
      this.scheduleRecovery();
    }
  }

  /** spec 02 §1.4: random delay in [0, backoff], 250 ms doubling to 30 s, then re-channel. */
  private scheduleRecovery(): void {
    if (this.recoveryScheduled || this.cancelled) return;
    this.recoveryScheduled = true;
    const delay = backoffDelayMs(this.recoveryAttempt++, 250, 30_000);
    void (async () => {
      const slept = await sleep(delay, this.abort.signal);
      this.recoveryScheduled = false;
      if (!slept || this.cancelled) return;
      try {
        await this.ensureConsuming();
      } catch (e) {
        this.log.warn({ err: toError(e).message, attempt: this.recoveryAttempt }, 'resuming consumer failed; retrying');
        this.scheduleRecovery();
      }
    })();
  }

  private onMessage(st: ChannelState, m: ConsumeMessage | null): void {
    if (m === null) {
      // Broker-side cancel (e.g. queue deleted): drop this channel and re-consume later.
      this.log.warn('consumer cancelled by the broker');
      if (!st.closed) void st.ch.close().catch(() => undefined);
      return;
    }
    this.inFlight++;
    void this.handle(st, m)
      .catch((e: unknown) => this.log.error({ err: toError(e).message }, 'consumer delivery processing failed'))
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) for (const w of [...this.idleWaiters]) w();
      });
  }

  private async handle(st: ChannelState, m: ConsumeMessage): Promise<void> {
    const delivery: Delivery = {
      body: m.content,
      redelivered: m.fields.redelivered,
      deliveryTag: m.fields.deliveryTag,
      routingKey: m.fields.routingKey,
      exchange: m.fields.exchange,
      messageId: typeof m.properties.messageId === 'string' ? m.properties.messageId : undefined,
    };
    let decision: ConsumerDecision;
    try {
      decision = await this.opts.handler(delivery);
    } catch (e) {
      // spec 02 §6: transient (MQ/DB transport) errors requeue, anything else is rejected.
      const retriable = isRetriableError(e);
      this.log.error({ err: toError(e).message, deliveryTag: delivery.deliveryTag, requeue: retriable }, 'message handler failed');
      decision = retriable ? 'requeue' : 'reject';
      if (retriable) await sleep(this.opts.requeueDelayMs ?? 1000, this.abort.signal);
    }
    const sent = this.settle(st, m, decision);
    try {
      this.opts.onSettled?.(delivery, decision, sent);
    } catch (e) {
      this.log.debug({ err: toError(e).message }, 'onSettled observer failed');
    }
  }

  /** Ack/nack on the channel the delivery came from; skipped (never thrown) if it has died. */
  private settle(st: ChannelState, m: ConsumeMessage, decision: ConsumerDecision): boolean {
    const tag = m.fields.deliveryTag;
    if (st.closed) {
      this.log.debug({ deliveryTag: tag, decision }, 'channel gone before settling; the broker redelivers');
      return false;
    }
    try {
      if (decision === 'ack') st.ch.ack(m);
      else st.ch.nack(m, false, decision === 'requeue');
      return true;
    } catch (e) {
      this.log.debug({ deliveryTag: tag, decision, err: toError(e).message }, 'settling failed; the broker redelivers');
      return false;
    }
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.abort.abort();
    this.unregister();
    await this.ensuring?.catch(() => undefined);
    const st = this.state;
    if (st && !st.closed) {
      try {
        await st.ch.cancel(this.consumerTag);
        this.log.info('consumer cancelled');
      } catch (e) {
        this.log.debug({ err: toError(e).message }, 'basic.cancel failed (channel already gone?)');
      }
    }
  }

  whenIdle(timeoutMs?: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (ok: boolean): void => {
        if (timer) clearTimeout(timer);
        this.idleWaiters.delete(onIdle);
        resolve(ok);
      };
      const onIdle = (): void => done(true);
      this.idleWaiters.add(onIdle);
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs);
    });
  }

  async close(timeoutMs = 30_000): Promise<void> {
    await this.cancel();
    await this.whenIdle(timeoutMs);
    const st = this.state;
    this.state = null;
    if (st && !st.closed) await st.ch.close().catch(() => undefined);
  }
}
