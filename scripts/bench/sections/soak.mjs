// 6. Soak: N trivial executions at concurrency 8 through one agent; its RSS (VmRSS) is sampled
// every 250 ms. "start" is taken after a warm-up share of the executions (heap and JIT settle
// first: a leak shows as growth from there), "middle" at half, "end" once all have completed.
import { startReadyAgent } from '../lib/agent.mjs';
import { NOOP_ACTION } from '../lib/harness.mjs';
import { kibToMiB, now, progress, round } from '../lib/util.mjs';

export const SOAK_CONCURRENCY = 8;

/** Lowest RSS among the samples of the first tenth after the warm-up and of the last tenth. */
export function floorGrowth(samples, warmup, total, key = 'rssKiB') {
  const span = Math.max(1, Math.round((total - warmup) / 10));
  const min = (xs) => (xs.length > 0 ? Math.min(...xs.map((s) => s[key])) : null);
  return {
    first: min(samples.filter((s) => s.done >= warmup && s.done < warmup + span)),
    last: min(samples.filter((s) => s.done >= total - span)),
  };
}

export async function benchSoak(ctx) {
  const total = ctx.sizes.soakExecutions;
  const warmup = Math.max(1, Math.round(total * ctx.sizes.soakWarmupShare));
  progress(`soak: ${total} executions at concurrency ${SOAK_CONCURRENCY} (start sample after ${warmup})`);
  const { agent } = await startReadyAgent(ctx, { tag: 'soak', maxConcurrent: SOAK_CONCURRENCY });
  const marks = { idle: null, start: null, middle: null, end: null };
  const samples = [];
  let done = 0;
  let timer;
  try {
    marks.idle = agent.memory()?.rssKiB ?? null;
    const executions = await ctx.harness.createExecutions(NOOP_ACTION, agent.workerId, total);
    const ids = executions.map((e) => e.id);
    const sample = () => {
      const m = agent.memory();
      if (!m) return;
      samples.push({ done, rssKiB: m.rssKiB, anonKiB: m.anonKiB, fileKiB: m.fileKiB });
      if (marks.start === null && done >= warmup) marks.start = m.rssKiB;
      if (marks.middle === null && done >= total / 2) marks.middle = m.rssKiB;
    };
    timer = setInterval(sample, 250);
    const t0 = now();
    let lastLog = t0;
    await ctx.harness.dispatchAll(executions, agent.workerId);
    await ctx.harness.waitAll(ids, {
      timeoutMs: 1_200_000,
      onProgress: (n) => {
        done = n;
        if (now() - lastLog > 15_000) {
          lastLog = now();
          progress(`soak: ${n}/${total}`);
        }
      },
    });
    clearInterval(timer);
    const seconds = (now() - t0) / 1000;
    sample();
    marks.end = agent.memory()?.rssKiB ?? null;
    // A run shorter than the sampling period can miss a mark: take the nearest later sample.
    marks.start ??= samples.find((s) => s.done >= warmup)?.rssKiB ?? marks.end;
    marks.middle ??= samples.find((s) => s.done >= total / 2)?.rssKiB ?? marks.end;
    const bad = ctx.harness.failures(ids);
    if (Object.keys(bad).length > 0) throw new Error(`soak: executions did not complete: ${JSON.stringify(bad)}; log ${agent.logPath}`);
    const peak = Math.max(...samples.map((s) => s.rssKiB));
    const floors = floorGrowth(samples, warmup, total);
    // Which kind of page a step is made of: anonymous (heap, malloc) or file-backed (the binary).
    const anon = floorGrowth(samples, warmup, total, 'anonKiB');
    const file = floorGrowth(samples, warmup, total, 'fileKiB');
    return {
      executions: total,
      concurrency: SOAK_CONCURRENCY,
      warmupExecutions: warmup,
      seconds: round(seconds, 1),
      perSecond: round(total / seconds, 1),
      rssMiB: { idle: kibToMiB(marks.idle), start: kibToMiB(marks.start), middle: kibToMiB(marks.middle), end: kibToMiB(marks.end), peakSampled: kibToMiB(peak) },
      growthPct: round(((marks.end - marks.start) / marks.start) * 100, 2),
      // The sawtooth of the heap between collections hides a leak in single samples; what a leak
      // raises is the floor: the lowest RSS of the first and of the last tenth of the run.
      floorMiB: { first: kibToMiB(floors.first), last: kibToMiB(floors.last) },
      floorGrowthPct: floors.first ? round(((floors.last - floors.first) / floors.first) * 100, 2) : null,
      floorAnonMiB: { first: kibToMiB(anon.first), last: kibToMiB(anon.last) },
      floorFileMiB: { first: kibToMiB(file.first), last: kibToMiB(file.last) },
      samples: samples.length,
      // [done, VmRSS, RssAnon, RssFile] in KiB
      series: samples.map((s) => [s.done, s.rssKiB, s.anonKiB, s.fileKiB]),
    };
  } finally {
    clearInterval(timer);
    await agent.stop();
  }
}
