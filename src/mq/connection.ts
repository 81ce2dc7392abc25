/**
 * One supervised AMQP connection (spec 02 §1). Differences from upstream, on purpose:
 * - the first connect retries until `startupTimeoutMs` (upstream: no retry, fatal);
 * - after a loss we reconnect forever with capped, jittered backoff (upstream: 10 × 5 s, then
 *   errors) and re-run the registered `onConnect` hooks (topology, publisher, consumers);
 * - heartbeat is explicit (`heartbeat=60` added to the URL when absent, spec 02 §9.1).
 * Connection and channel errors never reach an unhandled 'error' event.
 */
import { EventEmitter } from 'node:events';
import * as amqp from 'amqplib';
import { MqError, toError } from '../errors';
import { coalesceFrameWrites } from './frame-writes';
import type { Logger } from '../log';
import { backoffDelayMs } from '../util/backoff';
import { describeTarget } from '../util/redact';
import { sleep } from '../util/sleep';
import type {
  AmqpChannel,
  AmqpConfirmChannel,
  AmqpConnection,
  ConnectContext,
  ConnectHook,
  MqConnection,
  MqConnectionOptions,
} from './connection-types';

export type * from './connection-types';

/** `heartbeat=N` appended when the URL carries none (amqplib's default is 0 = no heartbeat). */
export function withHeartbeat(url: string, heartbeatSec: number): string {
  if (/[?&]heartbeat=/i.test(url)) return url;
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  const frag = hash >= 0 ? url.slice(hash) : '';
  return `${base}${base.includes('?') ? '&' : '?'}heartbeat=${heartbeatSec}${frag}`;
}

/** Broker said "wrong credentials": retrying will not help. */
function isAccessRefused(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  return err?.code === 403 || (typeof err?.message === 'string' && /ACCESS[-_]REFUSED/.test(err.message));
}

/**
 * Connect (retrying until `startupTimeoutMs`) and supervise the connection from then on.
 * Throws MqError `MQ_UNREACHABLE` naming host:port/vhost (never the password).
 */
export async function createMqConnection(opts: MqConnectionOptions): Promise<MqConnection> {
  const mq = new SupervisedConnection(opts);
  await mq.start();
  return mq;
}

class SupervisedConnection extends EventEmitter implements MqConnection {
  readonly target: string;
  generation = 0;
  reconnectCount = 0;
  private readonly url: string;
  private readonly password: string;
  private readonly log: Logger;
  private readonly opts: MqConnectionOptions;
  private conn: AmqpConnection | null = null;
  private readonly hooks: ConnectHook[] = [];
  private closing = false;
  private closePromise: Promise<void> | null = null;
  private reconnecting = false;
  private warnedUncoalesced = false;
  private readonly abort = new AbortController();

  constructor(opts: MqConnectionOptions) {
    super();
    this.opts = opts;
    this.url = withHeartbeat(opts.url, opts.heartbeatSec ?? 60);
    this.target = describeTarget(opts.url);
    try {
      this.password = decodeURIComponent(new URL(opts.url).password);
    } catch {
      this.password = '';
    }
    this.log = opts.log;
    this.setMaxListeners(100);
  }

  isConnected(): boolean {
    return this.conn !== null;
  }

  current(): AmqpConnection | null {
    return this.conn;
  }

  async start(): Promise<void> {
    const timeoutMs = this.opts.startupTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const signal = this.opts.signal;
    let attempt = 0;
    let lastError: unknown;
    while (!signal?.aborted) {
      let conn: AmqpConnection;
      try {
        conn = await this.openOnce(Math.max(1000, Math.min(10_000, deadline - Date.now())));
      } catch (e) {
        attempt++;
        lastError = e;
        if (signal?.aborted) break;
        const remaining = deadline - Date.now();
        if (isAccessRefused(e) || remaining <= 0) {
          const why = isAccessRefused(e)
            ? 'the broker refused the credentials'
            : `gave up after ${attempt} attempt(s) in ${Math.round(timeoutMs / 1000)} s`;
          throw this.unreachable(why, e);
        }
        const delay = Math.min(remaining, backoffDelayMs(attempt - 1, 250, 5_000));
        this.log.warn({ target: this.target, attempt, err: this.safeMessage(e), retryInMs: delay }, 'RabbitMQ not reachable yet, retrying');
        await sleep(delay, signal);
        continue;
      }
      if (signal?.aborted) {
        await conn.close().catch(() => undefined);
        break;
      }
      this.adopt(conn, false);
      return;
    }
    throw this.unreachable(attempt === 0 ? 'start-up aborted' : `start-up aborted after ${attempt} failed attempt(s)`, lastError);
  }

  /** MQ_UNREACHABLE naming the target and why (`cause` undefined: no attempt failed yet). */
  private unreachable(why: string, cause: unknown): MqError {
    const detail = cause === undefined ? '' : `: ${this.safeMessage(cause)}`;
    return new MqError(`Cannot connect to RabbitMQ at ${this.target} (${why})${detail}. Check message_queue.url and that the broker is running.`, {
      code: 'MQ_UNREACHABLE',
      cause,
    });
  }

  /** Error text from the client library with the URL's password scrubbed, just in case. */
  private safeMessage(e: unknown): string {
    const msg = toError(e).message;
    const pw = this.password;
    return pw.length >= 3 ? msg.split(pw).join('***') : msg;
  }

  private async openOnce(socketTimeoutMs: number): Promise<AmqpConnection> {
    const clientProperties = this.opts.connectionName ? { connection_name: this.opts.connectionName } : undefined;
    // noDelay: with Nagle on (amqplib's default) each small publish waits ~40 ms for the
    // broker's delayed ACK — that was most of the per-execution latency (npm run bench).
    const conn = await amqp.connect(this.url, { timeout: socketTimeoutMs, clientProperties, noDelay: true });
    if (!coalesceFrameWrites(conn) && !this.warnedUncoalesced) {
      this.warnedUncoalesced = true;
      this.log.warn({ target: this.target }, 'this amqplib version has no frame loop to batch: each AMQP frame is written on its own (works, costs more CPU)');
    }
    return conn;
  }

  /** Make `conn` current and watch it. */
  private adopt(conn: AmqpConnection, isReconnect: boolean): ConnectContext {
    this.generation++;
    const ctx: ConnectContext = { generation: this.generation, isReconnect };
    let lastError: Error | null = null;
    conn.on('error', (e: unknown) => {
      lastError = toError(e);
      this.log.warn({ target: this.target, err: lastError.message }, 'RabbitMQ connection error');
    });
    conn.on('blocked', (reason: unknown) => this.log.warn({ target: this.target, reason }, 'RabbitMQ connection blocked by the broker'));
    conn.on('unblocked', () => this.log.info({ target: this.target }, 'RabbitMQ connection unblocked'));
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = null;
      if (this.closing) return;
      this.log.warn({ target: this.target, generation: ctx.generation, err: lastError?.message }, 'RabbitMQ connection lost, reconnecting');
      this.emit('disconnected', { generation: ctx.generation, error: lastError });
      void this.reconnectLoop();
    });
    this.conn = conn;
    this.log.info({ target: this.target, generation: ctx.generation }, 'connected to RabbitMQ');
    this.emit('connected', ctx);
    return ctx;
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      const base = this.opts.reconnectBaseMs ?? 250;
      const max = this.opts.reconnectMaxMs ?? 30_000;
      for (let attempt = 0; !this.closing; attempt++) {
        const delay = backoffDelayMs(attempt, base, max);
        if (!(await sleep(delay, this.abort.signal))) return;
        let conn: AmqpConnection;
        try {
          conn = await this.openOnce(10_000);
        } catch (e) {
          this.log.warn({ target: this.target, attempt: attempt + 1, err: this.safeMessage(e) }, 'RabbitMQ reconnect attempt failed');
          continue;
        }
        if (this.closing) {
          await conn.close().catch(() => undefined);
          return;
        }
        this.reconnectCount++;
        // Let the close handler start a fresh loop if this connection dies during the hooks.
        this.reconnecting = false;
        const ctx = this.adopt(conn, true);
        await this.runHooks(conn, ctx);
        if (this.conn === conn) {
          this.log.info({ target: this.target, generation: ctx.generation, reconnects: this.reconnectCount }, 'RabbitMQ connection re-established');
          this.emit('reconnected', ctx);
        }
        return;
      }
    } finally {
      if (this.closing) this.reconnecting = false;
    }
  }

  private async runHooks(conn: AmqpConnection, ctx: ConnectContext): Promise<void> {
    for (const hook of [...this.hooks]) {
      if (this.conn !== conn) return;
      try {
        await hook(conn, ctx);
      } catch (e) {
        // A hook (e.g. one consumer) failing must not stop the others; each retries on its own.
        this.log.error({ target: this.target, err: toError(e).message }, 'RabbitMQ reconnect setup step failed');
      }
    }
  }

  onConnect(hook: ConnectHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  async waitForConnection(timeoutMs: number, signal?: AbortSignal): Promise<AmqpConnection> {
    if (this.conn) return this.conn;
    if (this.closing) throw new MqError(`RabbitMQ connection to ${this.target} is closed`);
    return new Promise<AmqpConnection>((resolve, reject) => {
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('closed', onClosed);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else if (this.conn) resolve(this.conn);
        else reject(new MqError(`RabbitMQ connection to ${this.target} was lost again`));
      };
      const onConnected = (): void => done(null);
      const onClosed = (): void => done(new MqError(`RabbitMQ connection to ${this.target} is closed`));
      const onAbort = (): void => done(new MqError('waiting for the RabbitMQ connection was aborted'));
      const timer = setTimeout(
        () => done(new MqError(`RabbitMQ at ${this.target} still unreachable after ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      this.on('connected', onConnected);
      this.on('closed', onClosed);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private live(): AmqpConnection {
    if (!this.conn) throw new MqError(`not connected to RabbitMQ at ${this.target}`);
    return this.conn;
  }

  createChannel(): Promise<AmqpChannel> {
    return this.withErrorListener(this.live().createChannel());
  }

  createConfirmChannel(): Promise<AmqpConfirmChannel> {
    return this.withErrorListener(this.live().createConfirmChannel());
  }

  private async withErrorListener<T extends AmqpChannel>(p: Promise<T>): Promise<T> {
    const ch = await p;
    ch.on('error', (e: unknown) => this.log.debug({ err: toError(e).message }, 'RabbitMQ channel error'));
    return ch;
  }

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closing = true;
    this.abort.abort();
    const conn = this.conn;
    this.conn = null;
    this.closePromise = (async () => {
      if (conn) {
        try {
          // amqplib closes with reply code 200, as upstream's "Normal shutdown" (spec 02 §1.5).
          await conn.close();
        } catch (e) {
          this.log.debug({ err: toError(e).message }, 'RabbitMQ connection close failed (already closed?)');
        }
      }
      this.log.info({ target: this.target }, 'RabbitMQ connection closed');
      this.emit('closed');
    })();
    return this.closePromise;
  }
}
