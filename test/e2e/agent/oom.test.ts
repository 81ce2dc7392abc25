/**
 * Actions, not the agent, pay for memory (issue 17): the agent runs in a memory-limited cgroup of
 * its own (cgroup v1 memory controller or v2, created under this test process's cgroup; needs
 * root). Its actions start with oom_score_adj 1000 while it keeps its own (read from /proc); a
 * memory hog is what the kernel kills; the execution ends `failed` with an error naming the OOM
 * killer, and the agent keeps serving.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, waitForRowStatus, type AgentTestEnv } from '../../support/agent';

const LIMIT_BYTES = 384 * 1024 * 1024;

let e: AgentTestEnv;
let packDir: string;
let cgroup: { dir: string; counter: string } | null = null;

/** A child cgroup with a memory limit below ours, or an error saying why there is none. */
function createMemoryCgroup(): { dir: string; counter: string } {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const name = `attune-oom-${process.pid}-${Date.now().toString(36)}`;
  const v1 = lines.map((l) => l.split(':', 3)).find((p) => p[1]?.split(',').includes('memory'));
  if (v1 && existsSync('/sys/fs/cgroup/memory')) {
    const dir = join('/sys/fs/cgroup/memory', v1[2] ?? '/', name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(LIMIT_BYTES));
    return { dir, counter: join(dir, 'memory.oom_control') };
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2) {
    const dir = join('/sys/fs/cgroup', v2.slice(3), name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.max'), String(LIMIT_BYTES));
    return { dir, counter: join(dir, 'memory.events') };
  }
  throw new Error('no memory cgroup controller here (cgroup v1 memory or v2 with memory enabled): cannot run the OOM test');
}

const oomKills = (counter: string): number => Number(/^oom_kill (\d+)$/m.exec(readFileSync(counter, 'utf8'))?.[1] ?? NaN);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('test/e2e/agent/oom.test.ts needs root (cgroups)');
  cgroup = createMemoryCgroup();
  e = await createAgentTestEnv();
  packDir = mkdtempSync(join(tmpdir(), 'attune-e2e-oom-pack-'));
  mkdirSync(join(packDir, 'actions'));
  writeFileSync(join(packDir, 'pack.yaml'), 'ref: e2e_oom\nlabel: "OOM e2e"\nversion: "1.0.0"\n');
  const action = (n: string, body: string): void => {
    writeFileSync(join(packDir, 'actions', `${n}.yaml`), `ref: e2e_oom.${n}\nrunner_type: shell\nentry_point: ${n}.sh\nparameter_delivery: stdin\nparameter_format: json\noutput_format: text\n`);
    writeFileSync(join(packDir, 'actions', `${n}.sh`), `#!/bin/bash\n${body}\n`);
  };
  // Its own score, a grandchild's, and its parent's (the agent).
  action('score', 'echo "$(cat /proc/self/oom_score_adj) $(sh -c "cat /proc/self/oom_score_adj") $(cat /proc/$PPID/oom_score_adj)"');
  // Writes (so really uses) 20 MiB blocks until far past the limit.
  action('hog', `exec python3 -c 'import time
b = []
for i in range(200):
    b.append(b"x" * (20 * 1024 * 1024))
    time.sleep(0.005)
print("survived")'`);
  await e.cp.installPack(packDir);
});

afterAll(async () => {
  try {
    await e?.cleanup();
  } finally {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
    if (cgroup) rmdirSync(cgroup.dir);
  }
});

describe('OOM: actions before the agent', () => {
  it('starts actions at oom_score_adj 1000, and the memory hog, not the agent, is killed and reported', async () => {
    const cg = cgroup!;
    const { agent, workerId } = await e.startAgent({
      // Like a container: the agent starts inside the limited cgroup.
      launcher: ['sh', '-c', `echo $$ > ${cg.dir}/cgroup.procs && exec "$@"`, 'in-cgroup'],
      env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '2' },
    });
    expect(agent.findLogs(/actions start with a higher oom_score_adj/)).toHaveLength(1);
    expect(agent.findLogs('OOM kills of actions are detected from the memory cgroup')[0]).toMatchObject({ oomKillCounter: cg.counter });
    const agentScore = readFileSync(`/proc/${agent.pid}/oom_score_adj`, 'utf8').trim();

    const score = await e.submit(workerId, { actionRef: 'e2e_oom.score', parameters: {} });
    const scored = await waitForRowStatus(e.cp, score.id, ['completed', 'failed'], 30_000);
    expect(scored.status, JSON.stringify(scored.result)).toBe('completed');
    expect(String(scored.result.stdout).trim()).toBe(`1000 1000 ${agentScore}`);
    expect(Number(agentScore)).toBeLessThan(1000);

    const before = oomKills(cg.counter);
    const hog = await e.submit(workerId, { actionRef: 'e2e_oom.hog', parameters: {} });
    const row = await waitForRowStatus(e.cp, hog.id, ['completed', 'failed'], 60_000);
    expect(oomKills(cg.counter)).toBeGreaterThan(before);
    expect(row.status).toBe('failed');
    expect(row.result.error).toMatch(/^Action process was killed by the kernel OOM killer \(SIGKILL\): the container's memory limit \(402653184 bytes\) was reached/);
    expect(row.result.stdout ?? '').not.toContain('survived');
    console.log(`[oom] hog: ${row.result.error}`);

    // The agent survived and still serves.
    expect(agent.isAlive()).toBe(true);
    const again = await e.submit(workerId, { actionRef: 'e2e_oom.score', parameters: {} });
    expect((await waitForRowStatus(e.cp, again.id, ['completed', 'failed'], 30_000)).status).toBe('completed');
    expect(await agent.stop()).toBe(0);
  });
});
