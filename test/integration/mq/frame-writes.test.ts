import { describe, expect, it } from 'vitest';
import * as amqp from 'amqplib';
import { createMqConnection, type MqConnection } from '../../../src/mq/connection';
import { coalesceFrameWrites } from '../../../src/mq/frame-writes';
import { createSilentLogger } from '../../../src/log';
import { useTestVhost } from '../../support/amqp';

const vh = useTestVhost();
const log = createSilentLogger();

interface CountedSocket {
  calls: { write: number; writev: number; frames: number };
}

/** Counts what the connection's socket hands to the OS: `_write` (one chunk) and `_writev` (a batch). */
function countSocketWrites(conn: unknown): CountedSocket {
  const stream = (conn as { connection: { stream: { _write: (...a: unknown[]) => unknown; _writev: (chunks: unknown[], cb: unknown) => unknown } } }).connection.stream;
  const calls = { write: 0, writev: 0, frames: 0 };
  const write = stream._write.bind(stream);
  const writev = stream._writev.bind(stream);
  stream._write = (...a: unknown[]) => {
    calls.write++;
    calls.frames++;
    return write(...a);
  };
  stream._writev = (chunks: unknown[], cb: unknown) => {
    calls.writev++;
    calls.frames += chunks.length;
    return writev(chunks, cb);
  };
  return { calls };
}

/** 20 confirmed publishes issued in one turn, and their confirms awaited. */
async function publishBurst(ch: amqp.ConfirmChannel, queue: string): Promise<void> {
  const confirms: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) {
    confirms.push(new Promise<void>((res, rej) => ch.publish('', queue, Buffer.from(`m${i}`), {}, (e) => (e ? rej(e) : res()))));
  }
  await Promise.all(confirms);
}

describe('AMQP frame writes', () => {
  it('hands the frames queued in one turn to the socket as one batch, and every message arrives in order', async () => {
    const mq: MqConnection = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 5000 });
    try {
      const ch = await mq.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const counted = countSocketWrites(mq.current());
      await publishBurst(ch, queue);
      // 20 publishes (method + header + body in one chunk each): one pass of the frame loop.
      expect(counted.calls.frames).toBe(20);
      expect(counted.calls.write + counted.calls.writev).toBeLessThanOrEqual(2);
      const got: string[] = [];
      for (let i = 0; i < 20; i++) {
        const m = await ch.get(queue, { noAck: true });
        if (m) got.push(m.content.toString());
      }
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    } finally {
      await mq.close();
    }
  });

  it('without it, amqplib writes each frame on its own (what the patch changes)', async () => {
    const conn = await amqp.connect(vh.url);
    try {
      const ch = await conn.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const counted = countSocketWrites(conn);
      await publishBurst(ch, queue);
      expect(counted.calls.write).toBe(20);
      expect(coalesceFrameWrites(conn)).toBe(true);
      const after = countSocketWrites(conn);
      await publishBurst(ch, queue);
      expect(after.calls.frames).toBe(20);
      expect(after.calls.write + after.calls.writev).toBeLessThanOrEqual(2);
    } finally {
      await conn.close();
    }
  });

  it('leaves an object without amqplib\'s internals alone and says so', () => {
    expect(coalesceFrameWrites({})).toBe(false);
    expect(coalesceFrameWrites(null)).toBe(false);
    expect(coalesceFrameWrites({ connection: { muxer: {}, stream: {} } })).toBe(false);
  });

  it('keeps large messages intact through the corked socket (flow control still applies)', async () => {
    const mq: MqConnection = await createMqConnection({ url: vh.url, log, startupTimeoutMs: 5000 });
    try {
      const ch = await mq.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
      big.write('head', 0);
      big.write('tail', big.length - 4);
      await new Promise<void>((res, rej) => ch.publish('', queue, big, {}, (e) => (e ? rej(e) : res())));
      const m = await ch.get(queue, { noAck: true });
      expect(m && m.content.length).toBe(big.length);
      expect(m && m.content.equals(big)).toBe(true);
    } finally {
      await mq.close();
    }
  });
});
