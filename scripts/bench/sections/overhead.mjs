// 3. Per-execution overhead: publish the dispatch → receive ExecutionCompleted for the trivial
// action, one at a time, against the floor: a bare child_process.spawn of the same command
// (`/bin/bash noop.sh`, the parameters `{}` on stdin, stdout/stderr piped and drained), as the
// agent spawns it.
import { agentEnv, startReadyAgent } from '../lib/agent.mjs';
import { NOOP_ACTION } from '../lib/harness.mjs';
import { now, progress, round, summary, timedRun } from '../lib/util.mjs';

/** ms of one bare spawn of the action's command, as the agent spawns it (the baseline). */
export async function timeBareSpawn(ctx) {
  const r = await timedRun('/bin/bash', [ctx.pack.noopScript], { env: agentEnv(ctx), cwd: ctx.pack.dir, input: '{}\n' });
  if (r.code !== 0) throw new Error(`bare spawn of /bin/bash ${ctx.pack.noopScript} exited ${r.code}`);
  return r.ms;
}

export async function benchOverhead(ctx) {
  const n = ctx.sizes.overheadRuns;
  const warmup = ctx.sizes.overheadWarmup;
  progress(`overhead: ${warmup} warm-up + ${n} sequential executions, then ${warmup} + ${n} bare spawns`);
  const { agent } = await startReadyAgent(ctx, { tag: 'overhead', maxConcurrent: 1 });
  const latencies = [];
  try {
    const executions = await ctx.harness.createExecutions(NOOP_ACTION, agent.workerId, n + warmup);
    for (let i = 0; i < executions.length; i++) {
      const ex = executions[i];
      const t0 = now();
      await ctx.harness.dispatch(ex, agent.workerId);
      const done = await ctx.harness.waitCompleted(ex.id, 60_000);
      if (done.status !== 'Completed') throw new Error(`execution ${ex.id} ended ${done.status}; agent log: ${agent.logPath}`);
      if (i >= warmup) latencies.push(done.at - t0);
    }
  } finally {
    await agent.stop();
  }

  const floor = [];
  for (let i = 0; i < n + warmup; i++) {
    const ms = await timeBareSpawn(ctx);
    if (i >= warmup) floor.push(ms);
  }
  const agentStats = summary(latencies);
  const floorStats = summary(floor);
  return {
    executions: n,
    warmup,
    command: `/bin/bash ${ctx.pack.noopScript}`,
    agentMs: agentStats,
    bareSpawnMs: floorStats,
    diffMs: {
      p50: round(agentStats.p50 - floorStats.p50),
      p95: round(agentStats.p95 - floorStats.p95),
      p99: round(agentStats.p99 - floorStats.p99),
    },
  };
}
