// 1. Detection: `attune-agent detect --json` vs the single version probes it runs (spec 01 §3).
// Upstream probes one candidate after another, so its cost is the SUM of the probes; the agent
// probes in parallel, so its limit is the SLOWEST probe. The agent's wall time also contains its
// process start-up, measured in the same loop as `--version` and subtracted for the target.
// The floor for probing in parallel: the same probes started all at once from this process,
// timed until the last has exited (on two cores they compete with each other for the CPU).
import { join } from 'node:path';
import { build } from 'esbuild';
import { median, now, progress, round, summary, timedRun } from '../lib/util.mjs';
import { agentEnv } from '../lib/agent.mjs';

/** RUNTIME_CANDIDATES from src/detect/candidates.ts itself (bundled in memory), not a copy. */
async function loadCandidates(root) {
  const r = await build({ entryPoints: [join(root, 'src', 'detect', 'candidates.ts')], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}`);
  return mod.RUNTIME_CANDIDATES;
}

export async function benchDetection(ctx) {
  const runs = ctx.sizes.detectRuns;
  const candidates = await loadCandidates(ctx.root);
  // Detection only needs PATH/HOME (no database, no broker); same env as the probes below.
  const env = agentEnv(ctx);
  const [cmd, ...pre] = ctx.agent.argv;

  const first = await timedRun(cmd, [...pre, 'detect', '--json'], { env, cwd: ctx.work, keepOutput: true });
  if (first.code !== 0) throw new Error(`detect --json exited ${first.code}: ${first.stderr}`);
  const found = JSON.parse(first.stdout).runtimes;
  const probes = found.map((rt) => {
    const c = candidates.find((x) => x.name === rt.name);
    if (!c) throw new Error(`detect --json reported ${rt.name}, which is not in RUNTIME_CANDIDATES`);
    return { name: rt.name, path: rt.path, args: [...c.versionArgs], samples: [] };
  });
  progress(`detection: ${runs} runs of detect --json, --version and ${probes.length} probes (${probes.map((p) => `${p.path} ${p.args.join(' ')}`).join(', ')})`);

  const wall = [];
  const version = [];
  const reported = [];
  const together = [];
  for (let i = 0; i < runs; i++) {
    const d = await timedRun(cmd, [...pre, 'detect', '--json'], { env, cwd: ctx.work, keepOutput: true });
    if (d.code !== 0) throw new Error(`detect --json exited ${d.code}: ${d.stderr}`);
    wall.push(d.ms);
    reported.push(Number(JSON.parse(d.stdout).duration_ms));
    const v = await timedRun(cmd, [...pre, '--version'], { env, cwd: ctx.work });
    if (v.code !== 0) throw new Error(`--version exited ${v.code}`);
    version.push(v.ms);
    for (const p of probes) {
      const r = await timedRun(p.path, p.args, { env, cwd: ctx.work });
      p.samples.push(r.ms);
    }
    const t0 = now();
    await Promise.all(probes.map((p) => timedRun(p.path, p.args, { env, cwd: ctx.work })));
    together.push(now() - t0);
  }

  const probeMedians = probes.map((p) => ({ name: p.name, command: `${p.path} ${p.args.join(' ')}`, medianMs: round(median(p.samples)) }));
  const sumMs = probeMedians.reduce((a, p) => a + p.medianMs, 0);
  const slowest = probeMedians.reduce((a, p) => (p.medianMs > a.medianMs ? p : a));
  const wallMs = median(wall);
  const versionMs = median(version);
  const detectionMs = Math.max(0, wallMs - versionMs);
  const parallelMs = median(together);
  return {
    runs,
    detectJsonWallMs: summary(wall),
    versionWallMs: summary(version),
    agentReportedDurationMs: summary(reported),
    detectionOnlyMs: round(detectionMs),
    probes: probeMedians,
    sequentialProbesMs: round(sumMs),
    parallelProbesMs: summary(together),
    slowestProbe: slowest,
    ratios: {
      wallVsSequential: round(wallMs / sumMs, 3),
      detectionVsSequential: round(detectionMs / sumMs, 3),
      detectionVsSlowest: round(detectionMs / slowest.medianMs, 3),
      parallelVsSlowest: round(parallelMs / slowest.medianMs, 3),
      detectionVsParallel: round(detectionMs / parallelMs, 3),
    },
  };
}
