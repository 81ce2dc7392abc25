/** Types of the supervised AMQP connection (implementation in connection.ts). */
import type * as amqp from 'amqplib';
import type { Logger } from '../log';

export type AmqpConnection = amqp.ChannelModel;
export type AmqpChannel = amqp.Channel;
export type AmqpConfirmChannel = amqp.ConfirmChannel;

export interface ConnectContext {
  /** Increases by one per successful connect (1 = the first connection). */
  generation: number;
  isReconnect: boolean;
}

/** Setup to re-run on every re-connection, e.g. declare topology, re-consume. */
export type ConnectHook = (conn: AmqpConnection, ctx: ConnectContext) => Promise<void>;

export interface MqConnectionOptions {
  url: string;
  log: Logger;
  /** Added as `heartbeat=N` when the URL has none; default 60 s. */
  heartbeatSec?: number;
  /** How long the first connect keeps retrying; 0 = one attempt. Default 60 000 ms. */
  startupTimeoutMs?: number;
  /** Reconnect backoff bounds; default 250 ms → 30 s (spec 02 §1.4 consumer backoff). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Shown in the RabbitMQ management UI (`connection_name` client property). */
  connectionName?: string;
  /**
   * Ends the first connect's retries early (the start-up was stopped or failed elsewhere): the
   * connect then rejects with MQ_UNREACHABLE "start-up aborted", and a connection that opens
   * after the abort is closed again. No effect once connected.
   */
  signal?: AbortSignal;
}

export interface MqConnectionEvents {
  connected: [ConnectContext];
  disconnected: [{ generation: number; error: Error | null }];
  reconnected: [ConnectContext];
  closed: [];
}

export interface MqConnection {
  /** `host:port/vhost`, safe to log. */
  readonly target: string;
  readonly generation: number;
  readonly reconnectCount: number;
  isConnected(): boolean;
  /** The live connection, or null while disconnected/closed. */
  current(): AmqpConnection | null;
  /** Resolves with the live connection; waits through a reconnection up to `timeoutMs`. */
  waitForConnection(timeoutMs: number, signal?: AbortSignal): Promise<AmqpConnection>;
  /** A channel on the live connection, with an 'error' listener attached. */
  createChannel(): Promise<AmqpChannel>;
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
  /**
   * Register setup that runs after every re-connection, in registration order (not for the
   * connection current at registration time: do that setup yourself). Returns an unregister fn.
   */
  onConnect(hook: ConnectHook): () => void;
  on<K extends keyof MqConnectionEvents>(event: K, fn: (...args: MqConnectionEvents[K]) => void): unknown;
  off<K extends keyof MqConnectionEvents>(event: K, fn: (...args: MqConnectionEvents[K]) => void): unknown;
  once<K extends keyof MqConnectionEvents>(event: K, fn: (...args: MqConnectionEvents[K]) => void): unknown;
  /** Close cleanly (reply 200); no reconnect afterwards. Idempotent. */
  close(): Promise<void>;
}
