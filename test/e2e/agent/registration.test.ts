/**
 * Registration and lifecycle of the real bundle against real PostgreSQL/RabbitMQ
 * (spec 01 §4 registration, §6 heartbeat, §7 start-up/shutdown; spec 04 §4.1).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../../support/amqp';
import { createAgentTestEnv, type AgentTestEnv } from '../../support/agent';
import { ROOT } from '../../support/cli';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let e: AgentTestEnv;

beforeAll(async () => {
  e = await createAgentTestEnv();
});

afterAll(async () => {
  await e?.cleanup();
});

describe('worker registration (spec 01 §4)', () => {
  it('writes every upstream worker column and the agent capabilities JSON', async () => {
    const name = e.uniqueName('e2e-reg');
    const before = Date.now();
    const { agent, workerId } = await e.startAgent({ name, env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '3' } });
    try {
      const row = (await e.cp.getWorkerByName(name)) as Record<string, any>;
      expect(row).toBeDefined();
      expect(Number(row.id)).toBe(workerId);
      expect(row.name).toBe(name);
      expect(row.worker_type).toBe('local');
      expect(row.worker_role).toBe('action');
      expect(row.host).toBe(hostname());
      expect(row.port).toBeNull();
      expect(row.status).toBe('active');
      const beat = new Date(row.last_heartbeat as string).getTime();
      expect(beat).toBeGreaterThanOrEqual(before - 5_000);
      expect(beat).toBeLessThanOrEqual(Date.now() + 5_000);

      const caps = row.capabilities as Record<string, any>;
      expect(caps.max_concurrent_executions).toBe(3);
      expect(caps.worker_version).toBe(PACKAGE_VERSION);
      expect(caps.agent_mode).toBe(true);
      expect(caps.agent_binary_name).toBe('attune-agent');
      expect(caps.agent_binary_version).toBe(PACKAGE_VERSION);
      expect(caps.runtimes).toEqual(expect.arrayContaining(['shell', 'python', 'node', 'native']));
      expect(caps.runtimes.filter((r: string) => r === 'native')).toHaveLength(1);

      const interpreters = caps.detected_interpreters as { name: string; path: string; version: string | null }[];
      expect(Array.isArray(interpreters)).toBe(true);
      expect(interpreters.map((i) => i.name)).toEqual(expect.arrayContaining(['shell', 'python', 'node']));
      for (const i of interpreters) {
        expect(Object.keys(i).sort()).toEqual(['name', 'path', 'version']);
        expect(i.path.startsWith('/')).toBe(true);
        expect(i.version === null || /^\d+(\.\d+)*/.test(i.version)).toBe(true);
      }
      // runtime_versions: { <name>: [versions…] } built from the detected interpreters.
      const versions = caps.runtime_versions as Record<string, string[]>;
      expect(versions).toBeTypeOf('object');
      const node = interpreters.find((i) => i.name === 'node');
      expect(node?.version).toBe(process.versions.node);
      expect(versions.node).toEqual([process.versions.node]);
      for (const i of interpreters) {
        if (i.version) expect(versions[i.name]).toContain(i.version);
      }
      for (const list of Object.values(versions)) expect([...list].sort()).toEqual(list);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  it('writes worker_type container when ATTUNE_WORKER_TYPE=container', async () => {
    const name = e.uniqueName('e2e-container');
    const { agent } = await e.startAgent({ name, env: { ATTUNE_WORKER_TYPE: 'container' } });
    try {
      const row = (await e.cp.getWorkerByName(name)) as Record<string, any>;
      expect(row.worker_type).toBe('container');
      expect(row.worker_role).toBe('action');
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  it('a restart with the same name reuses the row id, and the heartbeat advances every second', async () => {
    const name = e.uniqueName('e2e-restart');
    const first = await e.startAgent({ name });
    expect(await first.agent.stop()).toBe(0);
    expect((await e.cp.getWorkerByName(name))?.status).toBe('inactive');

    const second = await e.startAgent({ name, env: { ATTUNE__WORKER__HEARTBEAT_INTERVAL: '1' } });
    try {
      expect(second.workerId).toBe(first.workerId);
      const rows = (await e.cp.query('SELECT id, status FROM worker WHERE name = $1', [name])).rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]?.status).toBe('active');

      const beat1 = new Date((await e.cp.getWorkerByName(name))?.last_heartbeat as string).getTime();
      await new Promise((r) => setTimeout(r, 2_500));
      const beat2 = new Date((await e.cp.getWorkerByName(name))?.last_heartbeat as string).getTime();
      // Two or three ticks of 1 s in 2.5 s; at least one full second later.
      expect(beat2 - beat1).toBeGreaterThanOrEqual(900);
      expect(Date.now() - beat2).toBeLessThan(3_000);
    } finally {
      expect(await second.agent.stop()).toBe(0);
    }
  });
});

describe('shutdown (spec 01 §7.2)', () => {
  it('SIGTERM exits 0, marks the worker inactive and logs the shutdown steps', async () => {
    const name = e.uniqueName('e2e-sigterm');
    const { agent } = await e.startAgent({ name });
    const code = await agent.stop(20_000);
    expect(code).toBe(0);
    const row = await e.cp.getWorkerByName(name);
    expect(row?.status).toBe('inactive');
    const messages = agent.logs.map((l) => l.msg);
    const order = [
      'shutdown requested: finishing running executions (send the signal again to stop at once)',
      'draining running executions',
      'attune-agent stopped',
    ].map((m) => messages.indexOf(m));
    expect(order.every((i) => i >= 0), agent.tail()).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(agent.findLogs('shutdown requested')[0]?.signal).toBe('SIGTERM');
    expect(agent.stderr()).toBe('');
  });
});

describe('start-up failures (spec 01 §2.4, §7.1)', () => {
  it('PostgreSQL unreachable: exit 1 within seconds, naming host:port/db but never the password', async () => {
    const port = await unusedPort();
    const password = 'pw-canary-7f3a9';
    const started = Date.now();
    const agent = e.spawnAgent({
      env: {
        ATTUNE__DATABASE__URL: `postgresql://attune:${password}@127.0.0.1:${port}/attune_nowhere`,
        ATTUNE__AGENT__STARTUP_TIMEOUT: '2',
      },
    });
    const { code } = await agent.exited;
    const elapsedMs = Date.now() - started;
    expect(code).toBe(1);
    expect(elapsedMs).toBeLessThan(10_000);
    expect(agent.stderr()).toMatch(/^Error: /);
    expect(agent.stderr()).toContain(`127.0.0.1:${port}/attune_nowhere`);
    expect(agent.stderr() + agent.stdout()).not.toContain(password);
  });

  it('SIGTERM while RabbitMQ is still unreachable: the connect stops retrying and the agent exits 0 at once', async () => {
    const port = await unusedPort();
    const agent = e.spawnAgent({
      env: { ATTUNE__MESSAGE_QUEUE__URL: `amqp://guest:guest@127.0.0.1:${port}/%2F`, ATTUNE__AGENT__STARTUP_TIMEOUT: '60' },
    });
    await agent.waitForLog('RabbitMQ not reachable yet, retrying', 15_000);
    const stopped = Date.now();
    agent.child.kill('SIGTERM');
    const { code } = await agent.exited;
    expect(Date.now() - stopped).toBeLessThan(5_000);
    expect(code).toBe(0);
    const interrupted = agent.findLogs('start-up interrupted by a signal');
    expect(interrupted).toHaveLength(1);
    expect(JSON.stringify(interrupted[0])).toContain('start-up aborted');
  });

  it('a worker queue that exists with other arguments: exit 1 naming it and how to fix it, without consuming anything', async () => {
    const name = e.uniqueName('e2e-mismatch');
    const first = await e.startAgent({ name });
    await first.agent.stop();
    // Same name, same worker row: its cancel queue now carries a TTL upstream does not declare.
    const queue = `worker.${first.workerId}.cancel`;
    const conn = await amqp.connect(e.vhost.url);
    try {
      const ch = await conn.createChannel();
      await ch.deleteQueue(queue);
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-message-ttl': 1234 } });
    } finally {
      await conn.close();
    }
    const agent = e.spawnAgent({ name });
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr()).toContain(`RabbitMQ queue '${queue}'`);
    expect(agent.stderr()).toContain("already exists with a different 'x-message-ttl'");
    expect(agent.findLogs('consuming')).toEqual([]);
    expect(agent.findLogs('attune-agent ready: consuming executions')).toEqual([]);
  });

  it('missing message_queue configuration: exit 1 with the clear message', async () => {
    const agent = e.spawnAgent({ env: { ATTUNE__MESSAGE_QUEUE__URL: undefined } });
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr()).toContain('Message queue configuration is required');
    expect(agent.stderr()).toContain('ATTUNE__MESSAGE_QUEUE__URL');
  });

  it('missing JWT secret: exit 1 naming security.jwt_secret', async () => {
    const agent = e.spawnAgent({ env: { ATTUNE__SECURITY__JWT_SECRET: undefined } });
    const { code } = await agent.exited;
    expect(code).toBe(1);
    expect(agent.stderr()).toContain('security.jwt_secret');
  });
});
