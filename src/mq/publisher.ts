/**
 * Publishing with broker confirms (spec 02 §1.5, §3.5). Unlike upstream (retry once on a
 * channel error, even after the message may have reached the broker), we never re-send a
 * message that was handed to the socket: the caller learns from `MqPublishError.maybeDelivered`
 * whether the broker may have it — a completion must never be published twice (spec 02 §5.4).
 * A publish attempted while disconnected waits for the reconnection (it was never sent).
 */
import type { ConfirmChannel } from 'amqplib';
import { MqError, toError } from '../errors';
import type { Logger } from '../log';
import type { MqConnection } from './connection';
import {
  buildEnvelope,
  encodeEnvelope,
  executionCompletedPayload,
  executionStatusChangedPayload,
  type Envelope,
  type ExecutionCompletedPayload,
  type ExecutionStatusChangedPayload,
} from './messages';
import { DEFAULT_ROUTES } from './routing';
import { describeBrokerError } from './topology';

export class MqPublishError extends MqError {
  /** True when the message was written to the broker but not confirmed (outcome unknown). */
  readonly maybeDelivered: boolean;

  constructor(message: string, opts: { maybeDelivered: boolean; cause?: unknown }) {
    super(message, { code: 'MQ_ERROR', cause: opts.cause });
    this.maybeDelivered = opts.maybeDelivered;
  }
}

export interface PublishOptions {
  /** How long to wait for a connection/channel before giving up (message not sent). Default 30 s. */
  connectTimeoutMs?: number;
  /** How long to wait for the broker's confirm once sent. Default 30 s. */
  confirmTimeoutMs?: number;
  /**
   * Envelope identity (default: a fresh UUID, now). Given when the same message is published
   * again after a restart (worker/completion-replay.ts): to consumers it is a redelivery.
   */
  envelope?: { messageId: string; at: Date };
  /**
   * Called once the message is written to the channel (before its confirm): a caller can send
   * the next message of a sequence then and keep the order on the channel (issue 18).
   */
  onSent?: () => void;
}

export interface PublisherOptions extends PublishOptions {
  log: Logger;
  /** `headers.source_service` of built envelopes; spec 02 §5: `"worker"`. */
  sourceService?: string;
}

export interface Publisher {
  /** Resolves once the broker confirmed; rejects with MqPublishError otherwise. */
  publish(exchange: string, routingKey: string, envelope: Envelope<unknown>, opts?: PublishOptions): Promise<void>;
  /** spec 02 §5.1 → `attune.executions` / `execution.status.changed`. Returns the envelope sent. */
  publishExecutionStatusChanged(
    input: Parameters<typeof executionStatusChangedPayload>[0],
    opts?: PublishOptions,
  ): Promise<Envelope<ExecutionStatusChangedPayload>>;
  /** spec 02 §5.2 → `attune.executions` / `execution.completed`. Never retried by this module. */
  publishExecutionCompleted(
    input: Parameters<typeof executionCompletedPayload>[0],
    opts?: PublishOptions,
  ): Promise<Envelope<ExecutionCompletedPayload>>;
  close(): Promise<void>;
}

/** The publisher's confirm channel follows the connection; it is (re)created on demand. */
export function createPublisher(mq: MqConnection, opts: PublisherOptions): Publisher {
  const log = opts.log;
  const sourceService = opts.sourceService ?? 'worker';
  let channel: ChannelEntry | null = null;
  let opening: Promise<ChannelEntry> | null = null;
  let closed = false;

  async function openChannel(timeoutMs: number): Promise<ChannelEntry> {
    await mq.waitForConnection(timeoutMs);
    const ch = await mq.createConfirmChannel();
    const entry: ChannelEntry = { ch, closed: false, error: null, inFlight: 0 };
    ch.on('error', (e: unknown) => {
      entry.error = toError(e);
    });
    ch.on('close', () => {
      entry.closed = true;
      if (channel === entry) channel = null;
    });
    channel = entry;
    return entry;
  }

  async function getChannel(deadline: number): Promise<ChannelEntry> {
    for (;;) {
      if (closed) throw new MqPublishError('publisher is closed', { maybeDelivered: false });
      if (channel && !channel.closed) return channel;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new MqPublishError(`no RabbitMQ channel available at ${mq.target} in time; message not sent`, {
          maybeDelivered: false,
        });
      }
      opening ??= openChannel(remaining).finally(() => {
        opening = null;
      });
      try {
        return await opening;
      } catch (e) {
        log.debug({ err: toError(e).message }, 'publisher channel not available yet');
        // Connection dropped between wait and open: wait again until the deadline.
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
      }
    }
  }

  async function publish(exchange: string, routingKey: string, envelope: Envelope<unknown>, o: PublishOptions = {}): Promise<void> {
    const connectTimeoutMs = o.connectTimeoutMs ?? opts.connectTimeoutMs ?? 30_000;
    const confirmTimeoutMs = o.confirmTimeoutMs ?? opts.confirmTimeoutMs ?? 30_000;
    const body = encodeEnvelope(envelope);
    const deadline = Date.now() + connectTimeoutMs;
    const ctx = { exchange, routingKey, messageId: envelope.message_id, messageType: envelope.message_type };
    for (;;) {
      const entry = await getChannel(deadline);
      entry.inFlight++;
      const confirmed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no confirm within ${confirmTimeoutMs} ms`)), confirmTimeoutMs);
        const cb = (err: unknown): void => {
          clearTimeout(timer);
          if (err) reject(toError(err));
          else resolve();
        };
        try {
          // spec 02 §3.5: properties upstream sets; mandatory false (unroutable is dropped).
          entry.ch.publish(
            exchange,
            routingKey,
            body,
            {
              contentType: 'application/json',
              deliveryMode: 2,
              messageId: envelope.message_id,
              correlationId: envelope.correlation_id,
              timestamp: Math.floor(Date.parse(envelope.timestamp) / 1000),
            },
            cb,
          );
          o.onSent?.();
        } catch (e) {
          clearTimeout(timer);
          // Thrown synchronously: the channel was already closed, nothing was written.
          reject(Object.assign(toError(e), { notSent: true }));
        }
      });
      let alone = false;
      try {
        await confirmed;
        log.debug(ctx, 'message published');
        return;
      } catch (e) {
        alone = entry.inFlight === 1;
        const err = toError(e) as Error & { notSent?: boolean };
        if (err.notSent) {
          if (channel === entry) channel = null;
          continue; // safe to retry: the broker never saw it
        }
        throw publishFailure(entry, err, ctx, mq, alone);
      } finally {
        entry.inFlight--;
      }
    }
  }

  return {
    publish,
    async publishExecutionStatusChanged(input, o) {
      const env = buildEnvelope('ExecutionStatusChanged', executionStatusChangedPayload(input), { sourceService, messageId: o?.envelope?.messageId, now: o?.envelope?.at });
      const r = DEFAULT_ROUTES.ExecutionStatusChanged;
      await publish(r.exchange, r.routingKey, env, o);
      return env;
    },
    async publishExecutionCompleted(input, o) {
      const env = buildEnvelope('ExecutionCompleted', executionCompletedPayload(input), { sourceService, messageId: o?.envelope?.messageId, now: o?.envelope?.at });
      const r = DEFAULT_ROUTES.ExecutionCompleted;
      await publish(r.exchange, r.routingKey, env, o);
      return env;
    },
    async close() {
      closed = true;
      const entry = channel;
      channel = null;
      if (entry && !entry.closed) await entry.ch.close().catch(() => undefined);
    },
  };
}

interface ChannelEntry {
  ch: ConfirmChannel;
  closed: boolean;
  /** The channel-level error the broker closed it with, if any. */
  error: Error | null;
  /** Publishes awaiting their confirm on this channel. */
  inFlight: number;
}

function publishFailure(
  entry: ChannelEntry,
  err: Error,
  ctx: { exchange: string; routingKey: string; messageId: string },
  mq: MqConnection,
  alone: boolean,
): MqPublishError {
  const where = `'${ctx.exchange}' / '${ctx.routingKey}' (message ${ctx.messageId})`;
  if (err.message === 'message nacked') {
    return new MqPublishError(`RabbitMQ rejected (nack) the message published to ${where}`, { maybeDelivered: false, cause: err });
  }
  // A channel-level error (e.g. 404 NOT_FOUND: exchange missing) means the broker refused the
  // message — provably ours only when no other publish was awaiting a confirm on that channel.
  const code = (entry.error as { code?: unknown } | null)?.code;
  if (entry.error && typeof code === 'number' && code >= 400 && code !== 320) {
    return new MqPublishError(`RabbitMQ refused the message published to ${where}: ${describeBrokerError(entry.error)}`, {
      maybeDelivered: !alone,
      cause: entry.error,
    });
  }
  return new MqPublishError(
    `publish to ${where} at ${mq.target} not confirmed (${err.message}); the broker may or may not have it`,
    { maybeDelivered: true, cause: err },
  );
}
