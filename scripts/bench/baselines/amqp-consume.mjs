// Baseline: amqp-consume (Debian amqp-tools), the minimal queue-to-process runner, no database.
// It runs the command once per message with the body on stdin and acks after the command exits.
// Concurrency N = N consumers with prefetch 1. Each consumer gets `-c <share>` (shares add up to
// the message count), so every consumer exits exactly when the queue has been worked off: the
// measured window is first publish → last consumer exit.
import { spawn } from 'node:child_process';
import { exited, now, sleep } from '../lib/util.mjs';

export async function runAmqpConsume(ctx, { concurrency, messages, command, body }) {
  const queue = `bench.amqp-consume.c${concurrency}`;
  const ch = await ctx.harness.conn.createConfirmChannel();
  ch.on('error', () => {});
  await ch.assertQueue(queue, { durable: true });
  await ch.purgeQueue(queue);
  const procs = [];
  try {
    for (let i = 0; i < concurrency; i++) {
      const share = Math.floor(messages / concurrency) + (i < messages % concurrency ? 1 : 0);
      const child = spawn('amqp-consume', ['-u', ctx.amqpUrl, '-q', queue, '-p', '1', '-c', String(share), '--', ...command], {
        cwd: ctx.pack.dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (e) => (stderr += e.message));
      procs.push({ child, share, stderr: () => stderr });
    }
    // Wait until every consumer is attached, so the window holds no connection set-up.
    const deadline = now() + 30_000;
    while ((await ctx.harness.consumerCount(queue)) !== concurrency) {
      if (now() > deadline) throw new Error(`amqp-consume: ${concurrency} consumers did not attach to ${queue}`);
      await sleep(10);
    }
    const content = Buffer.from(body);
    const t0 = now();
    for (let i = 0; i < messages; i++) ch.sendToQueue(queue, content, { deliveryMode: 2, contentType: 'application/json' });
    await ch.waitForConfirms();
    const results = await Promise.all(procs.map((p) => exited(p.child)));
    const seconds = (now() - t0) / 1000;
    results.forEach((r, i) => {
      if (r.code !== 0) throw new Error(`amqp-consume #${i} exited ${JSON.stringify(r)}: ${procs[i].stderr()}`);
    });
    return { seconds, perSecond: messages / seconds };
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await ch.deleteQueue(queue).catch(() => {});
    await ch.close().catch(() => {});
  }
}
