/**
 * `npm run bench -- --quick` works end to end: every section runs against the real PostgreSQL,
 * RabbitMQ, amqp-consume and Celery, the JSON has every section with numeric figures, the table
 * has its target / met? columns, and what the run created (database, vhost) is gone afterwards.
 * Not a timing check: the figures are only required to be measured numbers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/cli';
import { testDatabaseBaseUrl } from '../../support/db';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'index.mjs'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // SIGINT lets the benchmark clean up what it created before it exits.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type Json = Record<string, any>;

function num(v: unknown): number {
  expect(typeof v, `expected a number, got ${JSON.stringify(v)}`).toBe('number');
  expect(Number.isFinite(v as number)).toBe(true);
  return v as number;
}

const positive = (v: unknown): void => expect(num(v)).toBeGreaterThan(0);

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'attune-bench-test-'));
  let run: Run;
  let doc: Json;

  beforeAll(async () => {
    run = await runBench(['--quick', '--out', out], 540_000);
    const file = join(out, 'latest.json');
    if (!existsSync(file)) throw new Error(`no ${file}; exit ${run.code}\n${run.stderr.slice(-4000)}`);
    doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
  }, 600_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('exits 0 with no failed section', () => {
    const failed = ['detection', 'startup', 'overhead', 'throughput', 'floor', 'heavyOutput', 'soak'].filter((k) => doc[k]?.error).map((k) => `${k}: ${doc[k].error}`);
    expect(failed).toEqual([]);
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
  });

  it('detection: detect --json, --version and every probe measured', () => {
    const d = doc.detection;
    positive(d.detectJsonWallMs.p50);
    positive(d.versionWallMs.p50);
    num(d.detectionOnlyMs);
    expect(d.probes.length).toBeGreaterThan(0);
    for (const p of d.probes) positive(p.medianMs);
    positive(d.sequentialProbesMs);
    positive(d.slowestProbe.medianMs);
    // The sum of the probes is at least the slowest one.
    expect(d.sequentialProbesMs).toBeGreaterThanOrEqual(d.slowestProbe.medianMs);
    // The floor: the same probes all at once, once per run, timed until the last exits.
    expect(d.parallelProbesMs.n).toBe(d.runs);
    positive(d.parallelProbesMs.p50);
    for (const r of Object.values(d.ratios)) num(r);
  });

  it('start-up: --version, registered-and-consuming and peak RSS measured', () => {
    const s = doc.startup;
    expect(['sea', 'node']).toContain(s.agent);
    positive(s.versionMs.p50);
    positive(s.versionBaseline.p50);
    positive(s.readyMs.p50);
    // Registering needs more than printing the version.
    expect(s.readyMs.p50).toBeGreaterThan(s.versionMs.p50);
    positive(s.readyPeakRssMiB);
    positive(s.versionPeakRssMiB);
  });

  it('per-execution overhead: agent and bare-spawn percentiles and their differences', () => {
    const o = doc.overhead;
    for (const q of ['p50', 'p95', 'p99']) {
      positive(o.agentMs[q]);
      positive(o.bareSpawnMs[q]);
      num(o.diffMs[q]);
    }
    expect(o.agentMs.n).toBe(o.executions);
  });

  it('throughput: agent, amqp-consume and Celery rates at concurrency 1, 4 and 16', () => {
    const t = doc.throughput;
    expect(t.levels.map((l: Json) => l.concurrency)).toEqual([1, 4, 16]);
    for (const l of t.levels) {
      positive(l.agentPerSec);
      positive(l.amqpConsumePerSec);
      positive(l.celeryPerSec);
      positive(l.agentVsAmqpConsume);
      positive(l.agentVsCelery);
      // issue 18: the CPU split and the round trips behind it.
      positive(l.agentCpu.agentMsPerExecution);
      num(l.agentCpu.postgresMsPerExecution);
      positive(l.agentRoundTrips.sqlStatementsPerExecution);
      // One running + one terminal status change and one completion per execution.
      expect(l.agentRoundTrips.statusChangedPerExecution).toBe(2);
      expect(l.agentRoundTrips.completedPerExecution).toBe(1);
    }
    // Once more at the highest level with an API answering the seals: stdout and stderr each.
    const a = t.withApi;
    expect(a.concurrency).toBe(16);
    positive(a.agentPerSec);
    positive(a.agentCpu.agentMsPerExecution);
    expect(a.sealRequestsPerExecution).toBe(2);
    expect(a.agentRoundTrips.completedPerExecution).toBe(1);
  });

  it('floor: the skeleton consumer ran at the highest level with and without its spawn and on upstream\'s table, on the agent\'s Node', () => {
    const f = doc.floor;
    expect(f.concurrency).toBe(16);
    expect(f.node).toMatch(/^v\d+\./);
    for (const c of [f.withSpawn, f.withoutSpawn]) {
      expect(c.executions).toBe(doc.throughput.executions);
      positive(c.cpuMsPerExecution);
      positive(c.perSec);
      positive(c.peakRssMiB);
    }
    expect(f.withSpawn.spawn).toBe(true);
    expect(f.withoutSpawn.spawn).toBe(false);
    expect([f.withSpawn.schema, f.withoutSpawn.schema, f.upstreamTable.schema]).toEqual(['plain', 'plain', 'upstream']);
    // PostgreSQL's CPU (10 ms clock ticks: a plain table's share of 60 executions can read 0).
    num(f.withSpawn.postgresMsPerExecution);
    positive(f.upstreamTable.postgresMsPerExecution);
    positive(f.upstreamTable.cpuMsPerExecution);
    // One execution at a time, each paired with a bare spawn of the same command.
    expect(f.sequential.skeletonMs.n).toBe(doc.overhead.executions);
    expect(f.sequential.bareSpawnMs.n).toBe(doc.overhead.executions);
    positive(f.sequential.skeletonMs.p50);
    positive(f.sequential.bareSpawnMs.p50);
    // The same one at a time without the spawn: the writes, publishes and hops alone.
    expect(f.sequential.withoutSpawnMs.n).toBe(doc.overhead.executions);
    positive(f.sequential.withoutSpawnMs.p50);
    // A fork, an exec and three pipes per execution cost the parent more than none.
    expect(f.withSpawn.cpuMsPerExecution).toBeGreaterThan(f.withoutSpawn.cpuMsPerExecution);
  });

  it('heavy output: agent and cat wall times, ratio and the agent peak RSS', () => {
    const h = doc.heavyOutput;
    positive(h.bytes);
    positive(h.agentMs);
    positive(h.catMs);
    positive(h.ratio);
    positive(h.agentPeakRssMiB);
    // The floors beside cat: one skeleton execution of the same action and one bare read per run.
    expect(h.floor.samples.catMs).toHaveLength(h.runs);
    expect(h.floor.samples.skeletonMs).toHaveLength(h.runs);
    expect(h.floor.samples.nodeReaderMs).toHaveLength(h.runs);
    positive(h.floor.skeletonMs);
    positive(h.floor.nodeReaderMs);
    expect(h.floor.maxStdoutBytes).toBe(10 * 1024 * 1024);
  });

  it('soak: RSS at start, middle and end, and the growth', () => {
    const k = doc.soak;
    positive(k.executions);
    for (const m of ['idle', 'start', 'middle', 'end']) positive(k.rssMiB[m]);
    num(k.growthPct);
    positive(k.perSecond);
  });

  it('API packs: cold- and warm-cache latencies of a pinned release, one download per cold run', () => {
    const a = doc.apiPacks;
    positive(a.executions);
    positive(a.archiveBytes);
    for (const q of ['p50', 'p95']) {
      positive(a.coldMs[q]);
      positive(a.warmMs[q]);
      num(a.diffMs[q]);
    }
    // One start-up sync plus one per cold execution; warm executions download nothing.
    expect(a.downloads).toBe(a.executions + 1);
  });

  it('the table has target and met? columns and a row per figure, also in latest.md', () => {
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(md).toContain('| target | met? |');
    expect(run.stdout).toContain('| target | met? |');
    expect(md).toContain(doc.meta.agentLabel);
    const rows = doc.rows as Json[];
    // 5 detection (2 of them the probes-all-at-once floor) + 4 start-up + 3 overhead
    // + 6 throughput + 3 × 5 CPU/round-trip rows + 3 with an API answering the seals
    // + 5 heavy (3 of them its floors) + 8 floor (CPU with and without the spawn, PostgreSQL on a
    // plain and on upstream's table, sequential latency with and without the spawn and the
    // agent's above it, vs Celery) + 2 soak (single samples, floors) + 4 API packs (p50/p95 of
    // cold vs warm, object vs volume)
    expect(rows).toHaveLength(55);
    expect(rows.map((r) => r.target)).toEqual(expect.arrayContaining(['≤ 70 MiB', '< +5 %']));
    for (const r of rows) expect(r.measure).not.toMatch(/^(failed|not run)/);
    expect(rows.filter((r) => r.target !== '—').every((r) => typeof r.met === 'boolean')).toBe(true);
  });

  it('removes the database and the vhost it created', async () => {
    expect(doc.meta.database).toMatch(/^attune_bench_/);
    const client = new pg.Client({ connectionString: testDatabaseBaseUrl() });
    await client.connect();
    try {
      const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [doc.meta.database]);
      expect(r.rowCount).toBe(0);
    } finally {
      await client.end();
    }
    const vhosts = spawnSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' });
    expect(vhosts.status).toBe(0);
    expect(vhosts.stdout.split('\n').map((l) => l.trim())).not.toContain(doc.meta.vhost);
  });
});
