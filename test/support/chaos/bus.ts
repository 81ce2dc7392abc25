/** RabbitMQ side of test/support/chaos.ts: the executor's dispatcher, a recorder of the agent's messages, broker faults. */
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { envelope } from '../agent';
import { rabbitmqctl } from '../amqp';
import type { InstalledPack } from './packs';
import { randomHex, sleep, waitFor } from './util';

// ------------------------------------------------------------------ RabbitMQ: dispatcher and recorder

async function assertExecutionsExchange(ch: amqp.Channel): Promise<void> {
  // Same flags as the agent's own declaration (spec 02 §2.1), so neither side conflicts.
  await ch.assertExchange('attune.executions', 'topic', { durable: true, autoDelete: false, internal: false });
}

/**
 * Publishes like the executor, with broker confirms, and retries until confirmed — through
 * closed connections (a message whose confirm was lost may then reach the agent twice; the
 * agent must cope, and `retries` counts those attempts).
 */
export class Dispatcher {
  retries = 0;
  private conn: amqp.ChannelModel | null = null;
  private ch: amqp.ConfirmChannel | null = null;
  private opening: Promise<amqp.ConfirmChannel> | null = null;
  private closed = false;

  constructor(private readonly url: string) {}

  private channel(): Promise<amqp.ConfirmChannel> {
    if (this.ch) return Promise.resolve(this.ch);
    this.opening ??= (async () => {
      try {
        const conn = await amqp.connect(this.url);
        conn.on('error', () => undefined);
        const ch = await conn.createConfirmChannel();
        ch.on('error', () => undefined);
        await assertExecutionsExchange(ch);
        const drop = (): void => {
          if (this.ch === ch) this.ch = null;
          if (this.conn === conn) this.conn = null;
        };
        conn.on('close', drop);
        ch.on('close', drop);
        this.conn = conn;
        this.ch = ch;
        return ch;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  async publish(routingKey: string, body: unknown, timeoutMs = 120_000): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('dispatcher closed');
      try {
        const ch = await this.channel();
        await new Promise<void>((res, rej) => {
          const t = setTimeout(() => rej(new Error('no confirm within 10 s')), 10_000);
          try {
            ch.publish('attune.executions', routingKey, content, { contentType: 'application/json', deliveryMode: 2 }, (err) => {
              clearTimeout(t);
              if (err) rej(err instanceof Error ? err : new Error(String(err)));
              else res();
            });
          } catch (e) {
            clearTimeout(t);
            rej(e as Error);
          }
        });
        return;
      } catch (e) {
        this.ch = null;
        if (Date.now() > deadline) throw new Error(`publish ${routingKey} failed for ${timeoutMs} ms: ${(e as Error).message}`);
        this.retries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  async dispatch(executionId: number, workerId: number, pack: Pick<InstalledPack, 'releaseId' | 'digest'>, actionRef: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await this.publish(
      `execution.dispatch.worker.${workerId}`,
      envelope(
        'ExecutionRequested',
        {
          execution_id: executionId,
          worker_id: workerId,
          action_ref: actionRef,
          config: null,
          scheduled_attempt_updated_at: new Date().toISOString(),
          release_id: pack.releaseId,
          release_digest: pack.digest,
          ...overrides,
        },
        'executor',
      ),
    );
  }

  async cancel(executionId: number, workerId: number): Promise<void> {
    await this.publish(`execution.cancel.worker.${workerId}`, envelope('ExecutionCancelRequested', { execution_id: executionId, worker_id: workerId }, 'api-service'));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.conn?.close().catch(() => undefined);
  }
}

export interface RecordedMessage {
  routingKey: string;
  messageId: string;
  body: { message_type?: string; payload?: Record<string, unknown>; [k: string]: unknown };
  receivedAt: number;
}

/**
 * Records `execution.completed` / `execution.status.changed` on a durable, non-exclusive queue
 * of its own, so nothing is missed while its connection is being closed by a fault; it
 * reconnects by itself. Broker redeliveries of the same message are recognised by the
 * envelope's `message_id` and counted once (`redeliveries` counts the extra copies).
 */
export class BusRecorder {
  readonly messages: RecordedMessage[] = [];
  redeliveries = 0;
  reconnects = 0;
  private readonly seen = new Set<string>();
  private readonly queue = `chaos.recorder.${randomHex()}`;
  private conn: amqp.ChannelModel | null = null;
  private closed = false;
  private listeners = new Set<(m: RecordedMessage) => void>();

  constructor(private readonly url: string) {}

  async start(): Promise<this> {
    await this.connect();
    return this;
  }

  onMessage(fn: (m: RecordedMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await assertExecutionsExchange(ch);
    await ch.assertQueue(this.queue, { durable: true, exclusive: false, autoDelete: false });
    await ch.bindQueue(this.queue, 'attune.executions', 'execution.completed');
    await ch.bindQueue(this.queue, 'attune.executions', 'execution.status.changed');
    await ch.prefetch(500);
    await ch.consume(this.queue, (msg) => {
      if (!msg) return;
      let body: RecordedMessage['body'];
      try {
        body = JSON.parse(msg.content.toString('utf8')) as RecordedMessage['body'];
      } catch {
        body = { unparsable: msg.content.toString('utf8') };
      }
      const messageId = typeof body.message_id === 'string' ? body.message_id : `nomid-${randomUUID()}`;
      if (this.seen.has(messageId)) this.redeliveries++;
      else {
        this.seen.add(messageId);
        const rec = { routingKey: msg.fields.routingKey, messageId, body, receivedAt: Date.now() };
        this.messages.push(rec);
        for (const l of this.listeners) l(rec);
      }
      try {
        ch.ack(msg);
      } catch {
        /* channel gone: redelivered, deduplicated above */
      }
    });
    conn.on('close', () => {
      if (this.conn === conn) this.conn = null;
      if (!this.closed) void this.reconnectLoop();
    });
    this.conn = conn;
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      try {
        await this.connect();
        this.reconnects++;
        return;
      } catch {
        /* broker still refusing; try again */
      }
    }
  }

  completionsFor(executionId: number): RecordedMessage[] {
    return this.messages.filter((m) => m.routingKey === 'execution.completed' && m.body.payload?.execution_id === executionId);
  }

  statusesFor(executionId: number): RecordedMessage[] {
    return this.messages.filter((m) => m.routingKey === 'execution.status.changed' && m.body.payload?.execution_id === executionId);
  }

  /** execution id → number of distinct ExecutionCompleted messages. */
  completionCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const m of this.messages) {
      if (m.routingKey !== 'execution.completed') continue;
      const id = Number(m.body.payload?.execution_id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  async waitForCompletions(ids: number[], timeoutMs: number): Promise<void> {
    await waitFor(`ExecutionCompleted for ${ids.length} executions`, () => ids.every((id) => this.completionsFor(id).length > 0), timeoutMs, 50);
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      try {
        const ch = await conn.createChannel();
        await ch.deleteQueue(this.queue).catch(() => undefined);
      } catch {
        /* vhost deletion removes it anyway */
      }
      await conn.close().catch(() => undefined);
    }
  }
}

/** Consumers on a queue of the vhost (0 when it does not exist yet). */
export async function queueConsumers(url: string, queue: string): Promise<number> {
  const conn = await amqp.connect(url);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const q = await ch.checkQueue(queue);
    return q.consumerCount;
  } catch {
    return 0;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Close every client connection of the vhost (never other vhosts' connections). */
export async function closeVhostConnections(vhost: string): Promise<string> {
  return rabbitmqctl('close_all_connections', '--vhost', vhost, 'chaos test: broker connection loss');
}
