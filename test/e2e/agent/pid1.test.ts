/**
 * The agent as PID 1 of its own PID namespace (`unshare --pid --fork --mount-proc`), as in a pod
 * or a `docker run` without --init (issue 17). Its actions leave orphans behind the way real
 * scripts do — a double fork, `setsid … &`, `nohup … &` — which the kernel re-parents to PID 1.
 * Node reaps only its own children, so without an init those pile up as zombies (the control
 * case proves the check can fail); with the agent's PID 1 handling (src/process/pid1.ts) there
 * are none, and nothing the actions started is left once they are over.
 *
 * Size: ATTUNE_PID1_EXECUTIONS (default 1000) at max_concurrent_tasks 8. Needs root (unshare).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, pollUntil, type AgentProcess, type AgentTestEnv } from '../../support/agent';
import { createExecutionCopies, dispatchAndWait } from '../../support/bulk-executions';
import { descendants, zombiesOf, type ProcEntry } from '../../support/proc-tree';

const COUNT = Number(process.env.ATTUNE_PID1_EXECUTIONS ?? 1000);
const CONCURRENCY = 8;
const LAUNCHER = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
const ACTION = 'e2e_pid1.orphans';

let e: AgentTestEnv;
let packDir: string;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('test/e2e/agent/pid1.test.ts needs root (unshare --pid)');
  e = await createAgentTestEnv();
  packDir = mkdtempSync(join(tmpdir(), 'attune-e2e-pid1-pack-'));
  mkdirSync(join(packDir, 'actions'));
  writeFileSync(join(packDir, 'pack.yaml'), 'ref: e2e_pid1\nlabel: "PID 1 e2e"\nversion: "1.0.0"\n');
  writeFileSync(
    join(packDir, 'actions', 'orphans.yaml'),
    'ref: e2e_pid1.orphans\nrunner_type: shell\nentry_point: orphans.sh\nparameter_delivery: stdin\nparameter_format: json\noutput_format: text\n',
  );
  writeFileSync(
    join(packDir, 'actions', 'orphans.sh'),
    [
      '#!/bin/bash',
      '# double fork: the grandchild is orphaned at once (and stays in the process group)',
      '( sleep 0.2 >/dev/null 2>&1 & )',
      '# setsid: leaves the process group and outlives the execution',
      '( setsid sleep 0.3 >/dev/null 2>&1 & )',
      '# nohup … &: orphaned when the script exits, still in the group',
      'nohup sleep 30 >/dev/null 2>&1 &',
      'echo ok',
      '',
    ].join('\n'),
  );
  await e.cp.installPack(packDir);
});

afterAll(async () => {
  try {
    await e?.cleanup();
  } finally {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  }
});

/** Run `count` executions; returns the largest zombie count sampled while they ran. */
async function runAll(agent: AgentProcess, workerId: number, count: number): Promise<number> {
  const exs = await createExecutionCopies(e.cp, ACTION, workerId, count);
  let maxZombies = 0;
  await dispatchAndWait(e.cp, exs, workerId, 60_000 + count * 300, () => {
    maxZombies = Math.max(maxZombies, zombiesOf(descendants(agent.pid)).length);
  });
  const r = await e.cp.query(`SELECT status, count(*)::int AS n FROM execution WHERE id = ANY($1) GROUP BY status`, [exs.map((x) => x.id)]);
  expect(r.rows).toEqual([{ status: 'completed', n: count }]);
  return maxZombies;
}

/** The agent itself and the init in front of it; everything else below `unshare` is a leftover. */
function isInitOrAgent(p: ProcEntry): boolean {
  return p.comm.startsWith('tini') || p.args.includes('attune-agent.cjs');
}

async function stopPid1(agent: AgentProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const pid1 = descendants(agent.pid)[0] as ProcEntry;
  process.kill(pid1.pid, 'SIGTERM'); // kubelet/docker stop signal PID 1, not unshare
  return Promise.race([agent.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit after SIGTERM\n${agent.tail()}`)), 60_000))]);
}

describe('the agent as PID 1 of its PID namespace', () => {
  it('control: with ATTUNE_AGENT_INIT=none (no init) the orphans of 20 executions stay zombies', async () => {
    const { agent, workerId } = await e.startAgent({
      launcher: LAUNCHER,
      env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: String(CONCURRENCY), ATTUNE_AGENT_INIT: 'none' },
    });
    expect(agent.findLogs(/running as PID 1 without an init/)).toHaveLength(1);
    await runAll(agent, workerId, 20);
    // The setsid'd sleeps (0.3 s) have ended by now: they, the double-forked and the killed
    // in-group orphans are all re-parented to PID 1, which never waits for them.
    const zombies = await pollUntil(() => {
      const z = zombiesOf(descendants(agent.pid));
      return z.length >= 40 && z;
    }, 5_000, '40 zombies (2 per execution)').catch(() => zombiesOf(descendants(agent.pid)));
    console.log(`[pid1] control without init: ${zombies.length} zombies after 20 executions`);
    expect(zombies.length).toBeGreaterThanOrEqual(40);
    expect(await stopPid1(agent)).toEqual({ code: 0, signal: null });
  });

  it(`reaps every orphan of ${COUNT} double-forking, setsid and nohup executions: 0 zombies, 0 stray processes`, async () => {
    const started = Date.now();
    const { agent, workerId } = await e.startAgent({ launcher: LAUNCHER, env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: String(CONCURRENCY) } });
    const hasExecve = typeof (process as { execve?: unknown }).execve === 'function';
    // Which path this Node takes (the SEA's Node 24 re-executes; test/e2e/sea covers that one).
    expect(agent.findLogs(hasExecve ? /re-executing under tini/ : /supervising the agent under `tini -s`/)).toHaveLength(1);
    expect(agent.findLogs(/running under tini as PID 1/)).toHaveLength(1);

    const maxZombiesDuring = await runAll(agent, workerId, COUNT);
    // After the last execution: setsid'd sleeps run ≤ 0.3 s more, then nothing may be left.
    const left = await pollUntil(() => {
      const rest = descendants(agent.pid).filter((p) => !isInitOrAgent(p));
      return rest.length === 0 && rest;
    }, 5_000, 'no process but tini and the agent').catch(() => descendants(agent.pid).filter((p) => !isInitOrAgent(p)));
    const all = descendants(agent.pid);
    const zombies = zombiesOf(all);
    console.log(
      `[pid1] ${COUNT} executions at concurrency ${CONCURRENCY} in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `max zombies seen while running ${maxZombiesDuring}, zombies after ${zombies.length}, stray processes ${left.length}`,
    );
    expect(zombies.map((z) => `${z.pid} ${z.comm}`)).toEqual([]);
    expect(left.map((p) => `${p.pid} ${p.state} ${p.args || p.comm}`)).toEqual([]);
    expect(all.filter(isInitOrAgent).length).toBeLessThanOrEqual(3);

    // Signals still reach the agent through tini: SIGTERM drains and exits 0.
    expect(await stopPid1(agent)).toEqual({ code: 0, signal: null });
    expect(agent.findLogs(/shutdown requested/)).toHaveLength(1);
  });
});
