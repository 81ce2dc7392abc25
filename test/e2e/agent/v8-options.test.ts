/**
 * The plain bundle under a Node with `process.execve` (the pinned Node 24 of the single
 * executable) re-executes itself with the single executable's V8 option (src/process/v8-options.ts):
 * same pid, the option on its command line, and it then works as usual.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNode } from '../../../scripts/build-sea.mjs';
import { createAgentTestEnv, type AgentTestEnv } from '../../support/agent';

let e: AgentTestEnv;
let node24: string;

beforeAll(async () => {
  node24 = ensureNode('x64').bin;
  e = await createAgentTestEnv();
});

afterAll(async () => {
  await e?.cleanup();
});

const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

describe("the plain bundle on Node 24 takes the single executable's V8 option", () => {
  it('re-executes once with --max-semi-space-size=8, keeps its pid and runs executions', async () => {
    const { agent, workerId } = await e.startAgent({ node: node24 });
    expect(agent.findLogs(/re-executing with the single executable's V8 options/)).toHaveLength(1);
    const argv = cmdline(agent.pid);
    expect(argv[0]).toBe(node24);
    expect(argv[1]).toBe('--max-semi-space-size=8');
    expect(argv.filter((a) => a.startsWith('--max-semi-space-size'))).toHaveLength(1);
    const ex = await e.submit(workerId, { actionRef: 'demo_test.echo', parameters: { message: 'young generation' } });
    await e.cp.waitForCompletions([ex.id], 60_000);
    const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
    expect(row.status).toBe('completed');
    expect(String(row.result?.stdout ?? JSON.stringify(row.result))).toContain('young generation');
    expect(await agent.stop()).toBe(0);
  });

  it('an operator-chosen semi-space size (NODE_OPTIONS) is left alone: no re-exec', async () => {
    const { agent } = await e.startAgent({ node: node24, env: { NODE_OPTIONS: '--max-semi-space-size=4' } });
    expect(agent.findLogs(/re-executing with/)).toHaveLength(0);
    expect(cmdline(agent.pid).some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect(await agent.stop()).toBe(0);
  });
});
