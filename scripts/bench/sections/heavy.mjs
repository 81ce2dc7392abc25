// 5. Heavy output: one action printing N bytes (`head -c N /dev/zero | tr '\0' 'a'`): dispatch →
// ExecutionCompleted vs the same producer piped into `cat > /dev/null`, and the agent's peak RSS
// (VmHWM of a fresh agent, so the figure is this section's peak).
import { agentEnv, startReadyAgent } from '../lib/agent.mjs';
import { HEAVY_ACTION } from '../lib/harness.mjs';
import { kibToMiB, median, now, progress, round, timedRun } from '../lib/util.mjs';

export async function benchHeavy(ctx) {
  const bytes = ctx.sizes.heavyBytes;
  const runs = ctx.sizes.heavyRuns;
  progress(`heavy output: ${runs} × ${bytes} bytes through the agent, then through cat`);
  const { agent } = await startReadyAgent(ctx, { tag: 'heavy', maxConcurrent: 1 });
  const agentMs = [];
  let idle;
  let hwmKiB;
  try {
    idle = agent.memory();
    const executions = await ctx.harness.createExecutions(HEAVY_ACTION, agent.workerId, runs);
    for (const ex of executions) {
      const t0 = now();
      await ctx.harness.dispatch(ex, agent.workerId);
      const done = await ctx.harness.waitCompleted(ex.id, 300_000);
      if (done.status !== 'Completed') throw new Error(`heavy execution ${ex.id} ended ${done.status}; log ${agent.logPath}`);
      agentMs.push(done.at - t0);
    }
    hwmKiB = agent.memory()?.hwmKiB ?? null;
  } finally {
    await agent.stop();
  }
  const catMs = [];
  const producer = `head -c ${bytes} /dev/zero | tr '\\0' 'a' | cat > /dev/null`;
  for (let i = 0; i < runs; i++) {
    const r = await timedRun('/bin/bash', ['-c', producer], { env: agentEnv(ctx), cwd: ctx.pack.dir });
    if (r.code !== 0) throw new Error(`${producer} exited ${r.code}`);
    catMs.push(r.ms);
  }
  const a = median(agentMs);
  const c = median(catMs);
  return {
    bytes,
    runs,
    agentMs: round(a),
    catMs: round(c),
    ratio: round(a / c, 3),
    baselineCommand: producer,
    agentIdleRssMiB: idle ? kibToMiB(idle.rssKiB) : null,
    agentPeakRssKiB: hwmKiB,
    agentPeakRssMiB: kibToMiB(hwmKiB),
  };
}
