import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BoundedCollector } from '../../../src/execution/output';
import { StreamCapture } from '../../../src/execution/pipes';
import { adoptPipeWithSharedBuffer } from '../../../src/execution/pipe-reader';

/** A child printing `bytes` pseudo-random bytes derived from `seed` on stdout (and a line on stderr). */
function printer(seed: string, bytes: number) {
  const script = `
    const { createHash } = require('node:crypto');
    let left = ${bytes}, i = 0;
    const next = () => {
      while (left > 0) {
        let b = Buffer.alloc(0);
        while (b.length < 100000) b = Buffer.concat([b, createHash('sha256').update('${seed}' + i++).digest()]);
        b = b.subarray(0, Math.min(left, b.length));
        left -= b.length;
        if (!process.stdout.write(b)) return process.stdout.once('drain', next);
      }
      process.stderr.write('done ${seed}\\n');
    };
    next();`;
  return spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
}

function expected(seed: string, bytes: number): string {
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const d = createHash('sha256').update(seed + i).digest();
    parts.push(d);
    total += d.length;
  }
  return createHash('sha256').update(Buffer.concat(parts).subarray(0, bytes)).digest('hex');
}

describe('reading action pipes into the shared buffer (issue 18)', () => {
  it('is used for a real child pipe and falls back for any other stream', () => {
    const child = printer('x', 10);
    child.stdin.end();
    const adopted = adoptPipeWithSharedBuffer(child.stdout, () => undefined);
    expect(adopted).not.toBeNull();
    adopted?.destroy();
    child.kill();
    expect(adoptPipeWithSharedBuffer(new PassThrough(), () => undefined)).toBeNull();
  });

  it('delivers every byte of two concurrent children to their own captures, then end, exit and close', async () => {
    const sizes = { a: 3_000_000, b: 1_234_567 };
    const runs = (Object.entries(sizes) as ['a' | 'b', number][]).map(([seed, bytes]) => {
      const child = printer(seed, bytes);
      child.stdin.end();
      const hash = createHash('sha256');
      let kept = 0;
      const out = new StreamCapture(child.stdout, 'stdout', 64 * 1024 * 1024, (chunk) => {
        kept += chunk.length;
        hash.update(chunk);
      });
      const err = new StreamCapture(child.stderr, 'stderr', 1024, () => undefined);
      const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      return { seed, bytes, out, err, closed, hash, kept: () => kept };
    });
    for (const r of runs) {
      await Promise.all([r.out.done, r.err.done]);
      expect(await r.closed).toBe(0);
      expect(r.out.ended).toBe(true);
      expect(r.out.incomplete).toBe(false);
      expect(r.kept()).toBe(r.bytes);
      expect(r.hash.digest('hex')).toBe(expected(r.seed, r.bytes));
      expect(r.err.collector.result().content).toBe(`done ${r.seed}\n`);
    }
  });

  it('keeps counting past the limit and stop() closes the read end', async () => {
    const child = spawn('/bin/sh', ['-c', 'head -c 5000000 /dev/zero; sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const cap = new StreamCapture(child.stdout, 'stdout', 1000, () => undefined);
    const dropped = 5_000_000 - (1000 - 128);
    for (let i = 0; i < 500 && cap.collector.result().bytesTruncated < dropped; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cap.collector.result().bytesTruncated).toBe(dropped);
    cap.stop();
    await cap.done;
    expect(cap.incomplete).toBe(true);
    process.kill(-(child.pid as number), 'SIGKILL');
  });
});

describe('BoundedCollector arena', () => {
  it('returns views that stay valid while the arena grows', () => {
    const c = new BoundedCollector(1_000_000, 'stdout');
    const views: Buffer[] = [];
    const input: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const chunk = Buffer.alloc(3001, i % 251);
      input.push(Buffer.from(chunk));
      views.push(...c.write(chunk));
      chunk.fill(0); // the caller reuses its read buffer
    }
    expect(Buffer.concat(views).equals(Buffer.concat(input))).toBe(true);
    expect(c.result().content).toBe(Buffer.concat(input).toString('utf8'));
  });
});
