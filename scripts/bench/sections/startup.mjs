// 2. Start-up: cold start to `--version` (scripts/bench/sea.mjs measureSea() when the single
// executable is in use: SEA vs `node dist/attune-agent.cjs`), and spawn → "registered and
// consuming" against the benchmark's own database and vhost, with the agent's peak RSS then.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnv, startReadyAgent } from '../lib/agent.mjs';
import { kibToMiB, median, progress, round, summary, timedRun } from '../lib/util.mjs';

async function ownVersionTiming(ctx, argv, runs) {
  const env = agentEnv(ctx);
  const samples = [];
  for (let i = 0; i < runs + 2; i++) {
    const r = await timedRun(argv[0], [...argv.slice(1), '--version'], { env, cwd: ctx.work });
    if (r.code !== 0) throw new Error(`${argv.join(' ')} --version exited ${r.code}`);
    if (i >= 2) samples.push(r.ms); // two warm-up runs fill the page cache
  }
  return samples;
}

async function versionPeakRssKiB(ctx, argv) {
  const out = join(ctx.work, 'time-version.txt');
  const r = await timedRun('/usr/bin/time', ['-f', '%M', '-o', out, ...argv, '--version'], { env: agentEnv(ctx), cwd: ctx.work });
  if (r.code !== 0) throw new Error(`/usr/bin/time ${argv.join(' ')} --version exited ${r.code}`);
  return Number(readFileSync(out, 'utf8').trim().split('\n').pop());
}

export async function benchStartup(ctx) {
  const runs = ctx.sizes.versionRuns;
  const result = { agent: ctx.agent.kind, runs };

  // --- cold start to --version
  let sea = null;
  if (ctx.agent.kind === 'sea') {
    try {
      const { measureSea } = await import('../sea.mjs');
      progress(`start-up: measureSea({ runs: ${runs} }) from scripts/bench/sea.mjs`);
      sea = measureSea({ runs });
    } catch (e) {
      // HOOK (SEA helper): scripts/bench/sea.mjs measureSea(); without it the figures below are ours.
      progress(`start-up: measureSea unavailable (${e instanceof Error ? e.message : e}); measuring --version here`);
    }
  }
  if (sea) {
    result.source = 'scripts/bench/sea.mjs measureSea()';
    result.versionMs = { p50: sea.startupVersionMs.sea.median, min: sea.startupVersionMs.sea.min, p90: sea.startupVersionMs.sea.p90, n: sea.startupVersionMs.sea.runs };
    result.versionBaseline = { label: `node dist/attune-agent.cjs --version (Node ${sea.hostNodeVersion})`, p50: sea.startupVersionMs.nodeHostBundle.median };
    result.versionPeakRssKiB = sea.peakRssKiB.seaVersion;
    result.sea = sea;
  } else {
    progress(`start-up: ${runs} runs of --version`);
    const agentSamples = await ownVersionTiming(ctx, ctx.agent.argv, runs);
    // Floor for a Node program: the same Node starting an empty script.
    const nodeSamples = await ownVersionTiming(ctx, [process.execPath, '-e', '0', '--'], runs).catch(() => null);
    result.source = 'measured here (no single executable in use)';
    result.versionMs = summary(agentSamples);
    result.versionBaseline = { label: `node -e 0 (empty Node ${process.versions.node} start)`, p50: round(median(nodeSamples)) };
    result.versionPeakRssKiB = await versionPeakRssKiB(ctx, ctx.agent.argv);
  }

  // --- spawn → registered and consuming
  const readyRuns = ctx.sizes.readyRuns;
  progress(`start-up: ${readyRuns} runs of spawn → registered and consuming`);
  const ready = [];
  const hwm = [];
  for (let i = 0; i < readyRuns; i++) {
    const { agent, readyMs } = await startReadyAgent(ctx, { tag: 'startup' });
    ready.push(readyMs);
    hwm.push(agent.memory()?.hwmKiB ?? NaN);
    await agent.stop();
  }
  result.readyMs = summary(ready);
  result.readyPeakRssKiB = median(hwm);
  result.readyPeakRssMiB = kibToMiB(result.readyPeakRssKiB);
  result.versionPeakRssMiB = kibToMiB(result.versionPeakRssKiB);
  return result;
}
