/**
 * The RabbitMQ connection the agent starts together with its other start-up steps
 * (wiring/early-starts.ts): connected and declared without waiting for PostgreSQL, and
 * released without waiting for its retries when the start-up fails or is stopped.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MqError } from '../../../src/errors';
import { createSilentLogger } from '../../../src/log';
import { RELEASE_WAIT_MS, startMessageQueue } from '../../../src/wiring/early-starts';
import { countVhostConnections, listQueues, unusedPort, useTestVhost, waitUntil } from '../../support/amqp';

const vh = useTestVhost();
const log = createSilentLogger();

function start(url: string, stop = new AbortController().signal, startupTimeoutMs = 60_000) {
  return startMessageQueue({ url, log, startupTimeoutMs, connectionName: 'early-start test', stop });
}

describe('startMessageQueue', () => {
  it('connects and declares the common infrastructure; release() closes the connection', async () => {
    const early = start(vh.url);
    const mq = await early.ready;
    expect(mq.isConnected()).toBe(true);
    expect((await listQueues(vh.vhost)).map((q) => q.name)).toContain('attune.dlx.queue');
    await early.release();
    expect(mq.isConnected()).toBe(false);
    await waitUntil(async () => (await countVhostConnections(vh.vhost)) === 0, 15_000, 'the connection to close');
  });

  it('release() during the retries ends them at once: ready rejects with MQ_UNREACHABLE "start-up aborted"', async () => {
    const port = await unusedPort();
    const early = start(`amqp://guest:guest@127.0.0.1:${port}/${vh.vhost}`);
    await new Promise((r) => setTimeout(r, 600)); // past the first failed attempt, inside a backoff
    const t0 = Date.now();
    await early.release();
    expect(Date.now() - t0).toBeLessThan(1500);
    const err = await early.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MqError);
    expect((err as MqError).code).toBe('MQ_UNREACHABLE');
    expect((err as MqError).message).toMatch(new RegExp(`^Cannot connect to RabbitMQ at 127\\.0\\.0\\.1:${port}/.* \\(start-up aborted after [1-9]\\d* failed attempt\\(s\\)\\): .*ECONNREFUSED`));
  });

  it('the agent stop signal ends the retries too', async () => {
    const port = await unusedPort();
    const stop = new AbortController();
    const early = start(`amqp://guest:guest@127.0.0.1:${port}/${vh.vhost}`, stop.signal);
    await new Promise((r) => setTimeout(r, 600));
    const t0 = Date.now();
    stop.abort();
    const err = await early.ready.catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((err as MqError).message).toContain('start-up aborted');
    await early.release();
  });

  it('an abort before the first attempt ends has no failure to name', async () => {
    const stop = new AbortController();
    stop.abort();
    const err = await start(vh.url, stop.signal).ready.catch((e: unknown) => e);
    expect((err as MqError).message).toMatch(/\(start-up aborted\)\. Check message_queue\.url/);
    await waitUntil(async () => (await countVhostConnections(vh.vhost)) === 0, 15_000, 'no connection left');
  });

  it('release() does not wait out an attempt that a silent host holds open; the attempt still ends aborted', async () => {
    // Accepts TCP and never speaks AMQP: the attempt ends only at its socket timeout, here the
    // ~4 s left of the start-up timeout (10 s at most).
    const sockets: Socket[] = [];
    const silent: Server = createServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as { port: number };
      const early = start(`amqp://guest:guest@127.0.0.1:${port}/${vh.vhost}`, undefined, 4_500);
      await new Promise((r) => setTimeout(r, 300));
      expect(sockets).toHaveLength(1);
      const t0 = Date.now();
      await early.release();
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(RELEASE_WAIT_MS - 50);
      expect(waited).toBeLessThan(RELEASE_WAIT_MS + 1000);
      const err = await early.ready.catch((e: unknown) => e);
      expect((err as MqError).message).toContain('start-up aborted');
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  }, 20_000);
});
