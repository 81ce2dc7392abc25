/**
 * RabbitMQ helpers for integration tests: a throwaway vhost per test file (created and deleted
 * with `rabbitmqctl`), and a recorder that captures what gets published to an exchange.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { Logger } from '../../src/log';

const execFileP = promisify(execFile);

/** Base URL of the test broker (no vhost path); `ATTUNE_TEST_AMQP_URL` overrides. */
export function testAmqpBaseUrl(): string {
  const raw = process.env.ATTUNE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const u = new URL(raw);
  return `${u.protocol}//${u.username}:${u.password}@${u.host}`;
}

function testUser(): string {
  return decodeURIComponent(new URL(testAmqpBaseUrl()).username || 'guest');
}

/** Run `rabbitmqctl` with args; fails with a message saying what to start. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP('rabbitmqctl', ['-q', ...args], { timeout: 60_000 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(
      `rabbitmqctl ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}. ` +
        'Start RabbitMQ locally (rabbitmqctl must reach the node) before running integration tests.',
      { cause: e },
    );
  }
}

export interface TestVhost {
  vhost: string;
  /** amqp URL for the vhost (guest credentials). */
  url: string;
  delete(): Promise<void>;
}

/** A fresh vhost `attune_test_<random>` with full permissions for the test user. */
export async function createTestVhost(): Promise<TestVhost> {
  const vhost = `attune_test_${randomBytes(5).toString('hex')}`;
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('set_permissions', '-p', vhost, testUser(), '.*', '.*', '.*');
  return {
    vhost,
    url: `${testAmqpBaseUrl()}/${encodeURIComponent(vhost)}`,
    delete: async () => {
      await rabbitmqctl('delete_vhost', vhost);
    },
  };
}

/**
 * A fresh vhost for the calling test file: made in its beforeAll, deleted in its afterAll. Read
 * its fields inside hooks and tests (before beforeAll has run, they throw).
 */
export function useTestVhost(): TestVhost {
  let vh: TestVhost | null = null;
  const current = (): TestVhost => {
    if (vh === null) throw new Error('useTestVhost: the vhost is made in beforeAll; read it inside a hook or test');
    return vh;
  };
  beforeAll(async () => {
    vh = await createTestVhost();
  });
  afterAll(async () => {
    await vh?.delete();
  });
  return {
    get vhost() {
      return current().vhost;
    },
    get url() {
      return current().url;
    },
    delete: () => current().delete(),
  };
}

/** Close every client connection on `vhost` (broker-initiated, reply 320 CONNECTION_FORCED). */
export async function closeVhostConnections(vhost: string, reason = 'test'): Promise<void> {
  await rabbitmqctl('close_all_connections', '--vhost', vhost, reason);
}

/** Connections currently open on `vhost`. */
export async function countVhostConnections(vhost: string): Promise<number> {
  const out = await rabbitmqctl('list_connections', 'vhost');
  return out.split('\n').filter((l) => l.trim() === vhost).length;
}

export interface QueueInfo {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  /** The `arguments` column as rabbitmqctl prints it, e.g. `[{"x-message-ttl",300000}]`. */
  arguments: string;
}

/** `rabbitmqctl list_queues -p <vhost> name durable auto_delete exclusive arguments`. */
export async function listQueues(vhost: string): Promise<QueueInfo[]> {
  const out = await rabbitmqctl('list_queues', '-p', vhost, '--no-table-headers', 'name', 'durable', 'auto_delete', 'exclusive', 'arguments');
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name, durable, autoDelete, exclusive, ...args] = l.split('\t');
      return {
        name: name ?? '',
        durable: durable === 'true',
        autoDelete: autoDelete === 'true',
        exclusive: exclusive === 'true',
        arguments: args.join('\t'),
      };
    });
}

/** Bindings of `vhost` as `source|destination|routing_key` strings. */
export async function listBindings(vhost: string): Promise<string[]> {
  const out = await rabbitmqctl('list_bindings', '-p', vhost, '--no-table-headers', 'source_name', 'destination_name', 'routing_key');
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t').join('|'));
}

export interface RecordedMessage {
  content: Buffer;
  json: unknown;
  fields: amqp.ConsumeMessage['fields'];
  properties: amqp.ConsumeMessage['properties'];
}

export interface Recorder {
  messages: RecordedMessage[];
  /** Resolves once at least `n` messages arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<RecordedMessage[]>;
  close(): Promise<void>;
}

/**
 * Record everything published to `exchange` with `routingKey` (binding pattern) on its own
 * connection, via an exclusive server-named queue. The exchange must already exist.
 */
export async function recordMessages(url: string, exchange: string, routingKey: string): Promise<Recorder> {
  const conn = await amqp.connect(url);
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await ch.bindQueue(queue, exchange, routingKey);
  const messages: RecordedMessage[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  await ch.consume(
    queue,
    (m) => {
      if (!m) return;
      let json: unknown = undefined;
      try {
        json = JSON.parse(m.content.toString('utf8'));
      } catch {
        // keep raw content only
      }
      messages.push({ content: m.content, json, fields: m.fields, properties: m.properties });
      for (const w of [...waiters]) if (messages.length >= w.n) w.resolve();
    },
    { noAck: true },
  );
  return {
    messages,
    waitFor(n, timeoutMs = 10_000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const w = {
          n,
          resolve: () => {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(w), 1);
            resolve(messages);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`recorder on ${exchange}/${routingKey}: got ${messages.length} of ${n} messages in ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async close() {
      await conn.close().catch(() => undefined);
    },
  };
}

/** Poll `check` until it returns true or `timeoutMs` passes. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TcpProxy {
  port: number;
  /** Destroy every proxied socket at once (simulates a network cut). */
  cut(): void;
  /** While refusing, new client connections are closed immediately. */
  setRefusing(refusing: boolean): void;
  close(): Promise<void>;
}

/** A TCP forwarder 127.0.0.1:<random port> → `target`, to cut or delay the broker link. */
export async function createTcpProxy(targetHost: string, targetPort: number, listenPort = 0): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    cut,
    setRefusing(r) {
      refusing = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound then released). */
export async function unusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The test broker's host and port (for proxies). */
export function testBrokerHostPort(): { host: string; port: number } {
  const u = new URL(testAmqpBaseUrl());
  return { host: u.hostname, port: Number(u.port || 5672) };
}

/** `url` with host:port replaced (credentials and vhost kept). */
export function withHostPort(url: string, host: string, port: number): string {
  const u = new URL(url);
  u.hostname = host;
  u.port = String(port);
  return u.toString();
}

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
  text(): string;
}

/** A pino logger (level debug) whose JSON lines are kept in memory for assertions. */
export function createCapturingLogger(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { log, lines, text: () => raw.join('') };
}
