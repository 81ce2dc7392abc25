/**
 * Resource limits through the real agent (issue step 8): a bounded fork-bomb-like action
 * (200 × `sleep 100 &`, then `wait`), a memory-hungry action (python, ~500 MB in 10 MB chunks)
 * and an output flood are contained by their timeout / the bounded capture, and the kill of the
 * process group leaves no process of theirs; an action opening 10 000 file descriptors leaks
 * none into the agent. The agent's own RSS is sampled all along and stays < 150 MiB.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutions,
  createHarness,
  installPack,
  killAll,
  processesWithEnv,
  procRssKiB,
  randomHex,
  removeAgentBundle,
  sleep,
  waitFor,
  waitTerminal,
  type AgentHarness,
  type AgentProcess,
  type InstalledPack,
} from '../support/chaos';

const RSS_LIMIT_KIB = 150 * 1024;

let h: AgentHarness;
let pack: InstalledPack;
let agent: AgentProcess;
const packRef = `limits_${randomHex(4)}`;
const marker = `ATTUNE_PACK_REF=${packRef}`;
let rssMaxKiB = 0;
let sampler: NodeJS.Timeout | undefined;

const FORK = ['#!/bin/bash', 'for i in $(seq 200); do sleep 100 & done', 'echo spawned', 'wait', ''].join('\n');
const MEMORY = [
  'import sys, time',
  'chunks = []',
  'for i in range(50):',
  "    chunks.append(b'x' * (10 * 1024 * 1024))",
  "print('allocated', len(chunks) * 10, 'MiB', flush=True)",
  'time.sleep(100)',
  '',
].join('\n');
const FDS = [
  'import resource, json',
  'soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)',
  'want = 10050',
  'if soft < want:',
  '    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))',
  "files = [open('/dev/null') for _ in range(10000)]",
  "print(json.dumps({'opened': len(files)}))",
  '',
].join('\n');
const FLOOD = ['#!/bin/bash', "head -c 300000000 /dev/zero | tr '\\0' x", 'echo', 'echo done >&2', ''].join('\n');
const OK = ['#!/bin/bash', 'echo ok', ''].join('\n');

beforeAll(async () => {
  h = await createHarness({ agent: { maxConcurrentTasks: 4 } });
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: { 'actions/fork.sh': FORK, 'actions/memory.py': MEMORY, 'actions/fds.py': FDS, 'actions/flood.sh': FLOOD, 'actions/ok.sh': OK },
    actions: [
      { name: 'fork', entrypoint: 'fork.sh', timeoutSec: 3 },
      { name: 'memory', entrypoint: 'memory.py', runner: 'python', timeoutSec: 4 },
      { name: 'fds', entrypoint: 'fds.py', runner: 'python', outputFormat: 'json', timeoutSec: 30 },
      { name: 'flood', entrypoint: 'flood.sh', timeoutSec: 60 },
      { name: 'ok', entrypoint: 'ok.sh', timeoutSec: 10 },
    ],
  });
  agent = await h.startAgent();
  sampler = setInterval(() => {
    const rss = procRssKiB(agent.pid);
    if (rss !== null) rssMaxKiB = Math.max(rssMaxKiB, rss);
  }, 50);
}, 120_000);

afterAll(async () => {
  if (sampler) clearInterval(sampler);
  killAll(processesWithEnv(marker));
  await h?.dispose();
  removeAgentBundle();
}, 60_000);

async function run(action: string, timeoutMs = 60_000): Promise<{ id: number; status: string; result: Record<string, unknown> | null }> {
  const [c] = await createExecutions(h.db.pool, pack, h.workerId as number, [{ action }]);
  const id = (c as { id: number }).id;
  await h.dispatcher.dispatch(id, h.workerId as number, pack, `${packRef}.${action}`);
  const rows = await waitTerminal(h.db.pool, [id], timeoutMs);
  const row = rows.get(id) as { status: string; result: Record<string, unknown> | null };
  return { id, ...row };
}

/** Highest count of live processes of this pack seen while `p` is pending. */
async function peakProcesses<T>(p: Promise<T>): Promise<{ value: T; peak: number; peakRssKiB: number }> {
  let peak = 0;
  let peakRssKiB = 0;
  let settled = false;
  const watch = (async () => {
    while (!settled) {
      const procs = processesWithEnv(marker);
      peak = Math.max(peak, procs.length);
      for (const pr of procs) peakRssKiB = Math.max(peakRssKiB, procRssKiB(pr.pid) ?? 0);
      await sleep(100);
    }
  })();
  const value = await p.finally(() => {
    settled = true;
  });
  await watch;
  return { value, peak, peakRssKiB };
}

async function noProcessesLeft(): Promise<void> {
  await waitFor('no process of the pack to be left', () => processesWithEnv(marker).length === 0, 5000).catch(() => undefined);
  expect(processesWithEnv(marker).map((p) => `${p.pid} ${p.args}`)).toEqual([]);
}

describe('resource-hungry actions are contained', () => {
  afterEach((ctx) => {
    console.log(`[resources] agent max RSS so far ${Math.round(rssMaxKiB / 1024)} MiB after: ${ctx.task.name}`);
  });

  it('a bounded fork bomb (200 × sleep 100 &, wait) times out and its whole process group is killed', async () => {
    const { value: r, peak } = await peakProcesses(run('fork'));
    console.log(`[resources] fork: status ${r.status}, peak ${peak} processes, error ${String(r.result?.error)}`);
    expect(r.status).toBe('timeout');
    expect(r.result?.error).toBe('Execution timed out after 3 seconds');
    expect(peak).toBeGreaterThanOrEqual(150); // it really spawned them
    await noProcessesLeft();
  });

  it('a python action allocating ~500 MB is stopped by its timeout; nothing of it is left', async () => {
    const { value: r, peakRssKiB } = await peakProcesses(run('memory'));
    console.log(`[resources] memory: status ${r.status}, action peak RSS ${Math.round(peakRssKiB / 1024)} MiB`);
    expect(r.status).toBe('timeout');
    expect(peakRssKiB).toBeGreaterThan(300 * 1024);
    await noProcessesLeft();
  });

  it('an action opening 10 000 file descriptors leaks none into the agent', async () => {
    await run('ok'); // warm: lazily opened sockets/files exist before the baseline
    const before = agent.fdCount();
    const r = await run('fds');
    await sleep(500);
    const after = agent.fdCount();
    console.log(`[resources] fds: status ${r.status}, data ${JSON.stringify(r.result?.data)}, agent fds before ${before} after ${after}`);
    expect(r.status).toBe('completed');
    expect(r.result?.data).toEqual({ opened: 10000 });
    expect(Math.abs(after - before)).toBeLessThanOrEqual(2);
  });

  it('the agent is unaffected by fork bomb, memory hog and fds: same process, a normal execution completes, RSS stayed < 150 MiB', async () => {
    const r = await run('ok');
    console.log(`[resources] agent max RSS ${Math.round(rssMaxKiB / 1024)} MiB over the file (limit 150 MiB)`);
    expect(r.status).toBe('completed');
    expect(agent.alive).toBe(true);
    expect(rssMaxKiB).toBeGreaterThan(0);
    expect(rssMaxKiB).toBeLessThan(RSS_LIMIT_KIB);
  });

  it('300 MB of stdout is cut at max_stdout_bytes (10 MiB): agent memory follows the limit, not the output', async () => {
    const baseline = rssMaxKiB;
    const r = await run('flood', 120_000);
    const growthMiB = Math.round((rssMaxKiB - baseline) / 1024);
    console.log(`[resources] flood: agent peak RSS ${Math.round(rssMaxKiB / 1024)} MiB (+${growthMiB} MiB for one 10 MiB result)`);
    const stdout = String(r.result?.stdout ?? '');
    console.log(`[resources] flood: status ${r.status}, stdout kept ${stdout.length} chars, truncated ${String(r.result?.stdout_truncated)}`);
    expect(r.status).toBe('completed');
    // spec 03 §4.1: on exit 0 upstream drops the truncation keys; the notice stays in stdout.
    expect(stdout.endsWith('[OUTPUT TRUNCATED: stdout exceeded size limit]\n')).toBe(true);
    expect(stdout.length).toBeLessThanOrEqual(10 * 1024 * 1024);
    // Transient copies of the 10 MiB result (string, DB JSON, RETURNING row, completion
    // envelope): bounded by a multiple of max_stdout_bytes — 300 MB unbounded would be GBs.
    expect(growthMiB).toBeLessThan(16 * 10);
    await noProcessesLeft();
    expect(agent.alive).toBe(true);
  });
});
