/**
 * Logging configuration of the built agent (spec 07 §4): RUST_LOG with upstream's precedence
 * and directive syntax, an invalid directive as one clear start-up error, and JSON log lines
 * without duplicate keys (checked on the raw text: JSON.parse would hide them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../../support/amqp';
import { createAgentTestEnv, pollUntil, waitForRowStatus, type AgentTestEnv } from '../../support/agent';
import { findDuplicateKeys } from '../../support/json-keys';

let e: AgentTestEnv;

beforeAll(async () => {
  e = await createAgentTestEnv();
});

afterAll(async () => {
  await e?.cleanup();
});

function rawLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

describe('RUST_LOG (spec 07 §4.1–§4.2)', () => {
  it('RUST_LOG=attune=debug beats log.level, logs debug lines, and no line repeats a key through a whole execution', async () => {
    const { agent, workerId } = await e.startAgent({
      name: e.uniqueName('e2e-log-debug'),
      env: { RUST_LOG: 'attune=debug', ATTUNE__LOG__LEVEL: 'warn' },
    });
    try {
      const first = agent.logs[0];
      expect(first).toMatchObject({ msg: 'logging initialized', level: 'info', directive: 'attune=debug', levelSource: 'RUST_LOG', format: 'json' });
      const ex = await e.submit(workerId, { actionRef: 'demo_test.echo', parameters: { message: 'hi' } });
      expect((await waitForRowStatus(e.cp, ex.id)).status).toBe('completed');
      await agent.waitForLog('execution finished');
      expect(agent.logs.some((l) => l.level === 'debug')).toBe(true);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    const lines = rawLines(agent.stdout());
    const withExecution = lines.filter((l) => l.includes('"executionId"'));
    expect(withExecution.length).toBeGreaterThan(2);
    const offending = lines.map((l) => ({ l, dups: findDuplicateKeys(l) })).filter((x) => x.dups.length > 0);
    expect(offending, offending.map((o) => `${o.dups.join(',')}: ${o.l}`).join('\n')).toEqual([]);
  });

  it('RUST_LOG=error: the agent serves executions and writes no info/debug line', async () => {
    const port = await unusedPort();
    const agent = e.spawnAgent({
      name: e.uniqueName('e2e-log-error'),
      env: { RUST_LOG: 'error', ATTUNE__LOG__LEVEL: 'debug', ATTUNE__AGENT__HEALTH_PORT: String(port), ATTUNE__AGENT__HEALTH_HOST: '127.0.0.1' },
    });
    try {
      await pollUntil(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
          return res?.status === 200;
        },
        30_000,
        'agent /readyz',
        100,
      );
      const worker = await e.cp.getWorkerByName(agent.name);
      const ex = await e.submit(Number(worker?.id), { actionRef: 'demo_test.echo', parameters: { message: 'quiet' } });
      expect((await waitForRowStatus(e.cp, ex.id)).status).toBe('completed');
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    const levels = agent.logs.map((l) => l.level);
    expect(levels.filter((l) => l !== 'error'), agent.tail()).toEqual([]);
  });

  it.each([
    ['foo=notalevel', /error parsing level filter 'notalevel'/],
    ['attune[span=debug', /invalid filter directive/],
  ])('an invalid directive (%s) exits 1 before connecting, with one error naming RUST_LOG', async (directive, detail) => {
    const name = e.uniqueName('e2e-log-bad');
    const agent = e.spawnAgent({ name, env: { RUST_LOG: directive } });
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    const stderr = agent.stderr().trim();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^Error: Invalid configuration: RUST_LOG: invalid log directive from RUST_LOG: /);
    expect(stderr).toMatch(detail);
    expect(stderr).toContain('(from env RUST_LOG)');
    expect(agent.stdout()).toBe('');
    expect(await e.cp.getWorkerByName(name)).toBeUndefined();
  });
});
