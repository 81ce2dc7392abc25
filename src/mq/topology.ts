/**
 * Exchange/queue declarations with upstream's exact flags and arguments (spec 02 §2).
 * Each declare/bind runs on its own short-lived channel, as upstream does (spec 02 §1.3): a
 * broker error (e.g. 406 PRECONDITION_FAILED) closes the channel it happened on.
 */
import type { Channel } from 'amqplib';
import { MqError, toError } from '../errors';
import type { Logger } from '../log';
import {
  DLX_BINDING_KEY,
  DLX_QUEUE,
  EXCHANGE_DECLARATIONS,
  EXCHANGES,
  EXECUTION_QUEUE_TTL_MS,
  workerQueueNames,
  workerRoutingKeys,
} from './routing';
import { allInOrder } from '../util/settle';

/** Anything that opens channels: an amqplib connection or our `MqConnection`. */
export interface ChannelSource {
  createChannel(): Promise<Channel>;
}

async function withChannel<T>(src: ChannelSource, fn: (ch: Channel) => Promise<T>): Promise<T> {
  const ch = await src.createChannel();
  let closed = false;
  // The rejected operation carries the error; this listener only keeps it off 'error' crashes.
  ch.on('error', () => undefined);
  ch.on('close', () => {
    closed = true;
  });
  try {
    return await fn(ch);
  } finally {
    if (!closed) await ch.close().catch(() => undefined);
  }
}

/**
 * spec 02 §2.1: the five exchanges, `attune.dlx.queue` (no arguments) and its `#` binding.
 * Failures are logged as warnings and never thrown (upstream tolerates them too).
 */
export async function declareCommonInfrastructure(src: ChannelSource, log: Logger): Promise<void> {
  const step = async (what: string, fn: (ch: Channel) => Promise<unknown>): Promise<void> => {
    try {
      await withChannel(src, fn);
    } catch (e) {
      log.warn({ err: describeBrokerError(e) }, `could not declare ${what}; continuing`);
    }
  };
  // Each declaration has its own channel (a refused one closes it), so they can all be on the
  // wire at once: 2 × 3 round trips (open, declare, close) instead of 7 × 3 one after another.
  await Promise.all([
    ...EXCHANGE_DECLARATIONS.map((ex) =>
      step(`exchange ${ex.name}`, (ch) => ch.assertExchange(ex.name, ex.type, { durable: true, autoDelete: false, internal: false })),
    ),
    step(`queue ${DLX_QUEUE}`, (ch) => ch.assertQueue(DLX_QUEUE, { durable: true, exclusive: false, autoDelete: false })),
  ]);
  await step(`binding ${DLX_QUEUE} <- ${EXCHANGES.dlx}`, (ch) => ch.bindQueue(DLX_QUEUE, EXCHANGES.dlx, DLX_BINDING_KEY));
}

/** The arguments each worker queue is declared with (spec 02 §2.2), exported for tests. */
export function workerQueueArguments(kind: 'executions' | 'packs' | 'cancel' | 'packtests'): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-dead-letter-exchange': EXCHANGES.dlx };
  if (kind === 'executions') {
    // Explicit signed 32-bit field (tag 'I'), as upstream's lapin writes it (spec 02 §2.2, §10).
    args['x-message-ttl'] = { '!': 'int', value: EXECUTION_QUEUE_TTL_MS };
  }
  return args;
}

export interface WorkerQueues {
  executions: string;
  packs: string;
  cancel: string;
  packtests: string;
}

/**
 * spec 02 §2.2: declare the four `worker.{id}.*` queues and their bindings (a queue before its
 * bindings; the four queues side by side, each step on its own channel: 2 × 3 round trips
 * instead of 9 × 3). Throws MqError `MQ_TOPOLOGY` when a queue already exists with other
 * arguments (one message naming queue, argument and the fix) and `MQ_ERROR` for other
 * broker/transport failures; with several failures, the first in upstream order.
 */
export async function declareWorkerQueues(src: ChannelSource, workerId: number): Promise<WorkerQueues> {
  const q = workerQueueNames(workerId);
  const rk = workerRoutingKeys(workerId);
  const plan: { kind: keyof WorkerQueues; binds: { exchange: string; key: string }[] }[] = [
    { kind: 'executions', binds: [{ exchange: EXCHANGES.executions, key: rk.dispatch }] },
    {
      kind: 'packs',
      binds: [
        { exchange: EXCHANGES.events, key: 'pack.registered' },
        { exchange: EXCHANGES.events, key: 'pack.deleted' },
      ],
    },
    { kind: 'cancel', binds: [{ exchange: EXCHANGES.executions, key: rk.cancel }] },
    { kind: 'packtests', binds: [{ exchange: EXCHANGES.executions, key: rk.packTest }] },
  ];
  const declareAndBind = async ({ kind, binds }: (typeof plan)[number]): Promise<void> => {
    const name = q[kind];
    try {
      await withChannel(src, (ch) =>
        ch.assertQueue(name, { durable: true, exclusive: false, autoDelete: false, arguments: workerQueueArguments(kind) }),
      );
    } catch (e) {
      throw queueDeclareError(name, e);
    }
    const bind = (b: (typeof binds)[number]): Promise<unknown> =>
      withChannel(src, (ch) => ch.bindQueue(name, b.exchange, b.key)).catch((e: unknown) => {
        throw new MqError(`Cannot bind queue '${name}' to exchange '${b.exchange}' with key '${b.key}': ${describeBrokerError(e)}`, {
          code: isPreconditionOrNotFound(e) ? 'MQ_TOPOLOGY' : 'MQ_ERROR',
          cause: e,
        });
      });
    await allInOrder(binds.map(bind));
  };
  await allInOrder(plan.map(declareAndBind));
  return q;
}

function isPreconditionOrNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 406 || code === 404;
}

/** The broker's reply text without amqplib's "Operation failed: QueueDeclare; " prefix. */
export function describeBrokerError(e: unknown): string {
  const msg = toError(e).message;
  const m = /with message "(.*)"$/s.exec(msg);
  return m?.[1] ?? msg;
}

const INEQUIVALENT_RE = /inequivalent arg '([^']+)' for queue '([^']+)' in vhost '([^']*)': received (.+?) but current is (.+)$/s;

/** Turn a failed queue declare into one operator-facing error (406 → MQ_TOPOLOGY). */
export function queueDeclareError(queue: string, e: unknown): MqError {
  const code = (e as { code?: unknown })?.code;
  const brokerText = describeBrokerError(e);
  if (code !== 406) {
    return new MqError(`Cannot declare queue '${queue}': ${brokerText}`, { code: 'MQ_ERROR', cause: e });
  }
  const m = INEQUIVALENT_RE.exec(brokerText);
  if (m) {
    const [, arg, q, vhost, received, current] = m;
    const vh = vhost ?? '/';
    return new MqError(
      `RabbitMQ queue '${q}' (vhost '${vh}') already exists with a different '${arg}': ` +
        `the agent declares ${received} but the existing queue has ${current}. ` +
        `Delete the queue (e.g. rabbitmqctl delete_queue -p '${vh}' '${q}'; its messages are lost) ` +
        `or align its arguments with upstream's, then restart the agent.`,
      { code: 'MQ_TOPOLOGY', cause: e },
    );
  }
  return new MqError(
    `RabbitMQ refused to declare queue '${queue}' (406 PRECONDITION_FAILED: ${brokerText}). ` +
      `The queue probably exists with other flags or arguments: delete it or align it, then restart the agent.`,
    { code: 'MQ_TOPOLOGY', cause: e },
  );
}
