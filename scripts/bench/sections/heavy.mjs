// 5. Heavy output: one action printing N bytes (`head -c N /dev/zero | tr '\0' 'a'`): dispatch →
// ExecutionCompleted vs the same producer piped into `cat > /dev/null`, and the agent's peak RSS
// (VmHWM of a fresh agent, so the figure is this section's peak). Then the floors beside `cat`,
// one after another so each triple sees the same machine: the skeleton consumer of the floor
// section running the same action with the least an execution that prints this much needs (its
// output copied to a log file as it arrives, the first max_stdout_bytes kept, the terminal
// UPDATE of upstream's row and the completion carrying them), and the action's bytes read to EOF
// into one reused buffer by this Node process and dropped (what any Node reader pays for the
// socketpair alone).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnv, startReadyAgent } from '../lib/agent.mjs';
import { HEAVY_ACTION } from '../lib/harness.mjs';
import { measureSequentialFloor } from '../floor.mjs';
import { timeDrain } from '../lib/floor-action.mjs';
import { kibToMiB, median, now, progress, round, timedRun } from '../lib/util.mjs';
import { floorNode, upstreamTable } from './floor.mjs';

/** The agent's default `worker.max_stdout_bytes` (src/config/validate.ts), which the bench keeps. */
const MAX_STDOUT_BYTES = 10 * 1024 * 1024;

export async function benchHeavy(ctx) {
  const bytes = ctx.sizes.heavyBytes;
  const runs = ctx.sizes.heavyRuns;
  progress(`heavy output: ${runs} × ${bytes} bytes through the agent, then through cat, the skeleton consumer and a bare Node reader`);
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
  const producer = `head -c ${bytes} /dev/zero | tr '\\0' 'a' | cat > /dev/null`;
  const floors = await heavyFloors(ctx, runs, producer);
  const a = median(agentMs);
  const c = median(floors.catMs);
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
    floor: {
      maxStdoutBytes: MAX_STDOUT_BYTES,
      skeletonMs: round(median(floors.skeletonMs)),
      nodeReaderMs: round(median(floors.readerMs)),
      samples: { catMs: floors.catMs.map((x) => round(x)), skeletonMs: floors.skeletonMs.map((x) => round(x)), nodeReaderMs: floors.readerMs.map((x) => round(x)) },
    },
  };
}

/** `runs` skeleton executions of the heavy action, each followed by `cat` and the bare reader. */
async function heavyFloors(ctx, runs, producer) {
  const env = agentEnv(ctx);
  const catMs = [];
  const readerMs = [];
  const between = async () => {
    const r = await timedRun('/bin/bash', ['-c', producer], { env, cwd: ctx.pack.dir });
    if (r.code !== 0) throw new Error(`${producer} exited ${r.code}`);
    catMs.push(r.ms);
    readerMs.push(await timeDrain(ctx.pack.heavyScript, { env, cwd: ctx.pack.dir }));
  };
  const logDir = join(ctx.work, 'heavy-floor-logs');
  mkdirSync(logDir, { recursive: true });
  try {
    const skeletonMs = await measureSequentialFloor({
      node: floorNode(ctx),
      databaseUrl: ctx.databaseUrl,
      amqpUrl: ctx.amqpUrl,
      runs,
      warmup: 0,
      script: ctx.pack.heavyScript,
      ...upstreamTable(ctx, HEAVY_ACTION),
      between,
      output: { logDir, maxBytes: MAX_STDOUT_BYTES },
    });
    return { catMs, readerMs, skeletonMs };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}
