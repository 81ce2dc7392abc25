/**
 * vitest globalSetup for the integration and e2e projects: both need PostgreSQL and RabbitMQ.
 * A missing service fails the run with what to start — never a silent skip (STYLE.md "Tests").
 */
import * as net from 'node:net';
import { assertPostgresReachable } from './db';

const RABBITMQ_START_HINT = 'service rabbitmq-server start  (or: rabbitmq-server -detached)';

function amqpTarget(): { host: string; port: number } {
  const raw = process.env.ATTUNE_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const u = new URL(raw);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || (u.protocol === 'amqps:' ? 5671 : 5672)) };
}

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | null): void => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (e) => done(e.message));
  });
}

export default async function setup(): Promise<void> {
  const problems: string[] = [];
  try {
    await assertPostgresReachable();
  } catch (e) {
    problems.push((e as Error).message);
  }
  const { host, port } = amqpTarget();
  const amqpProblem = await tcpReachable(host, port, 3000);
  if (amqpProblem !== null) {
    problems.push(
      `RabbitMQ is not reachable at ${host}:${port} (${amqpProblem}). Start it with: ${RABBITMQ_START_HINT}  ` +
        '(or point ATTUNE_TEST_AMQP_URL at a broker)',
    );
  }
  if (problems.length > 0) {
    throw new Error(`Integration test services are missing:\n  - ${problems.join('\n  - ')}`);
  }
}
