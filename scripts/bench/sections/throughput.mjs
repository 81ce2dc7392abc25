// 4. Throughput: executions/s for N trivial actions at concurrency 1, 4, 16
// (ATTUNE__WORKER__MAX_CONCURRENT_TASKS), against amqp-consume (one process per message, no
// database) and a Celery prefork worker on the same broker, each running the same command.
// Agent window: first dispatch published → last ExecutionCompleted received (the executions
// rows are created before the window, as the executor does before it dispatches).
// No Attune API listens in these runs, so after the first failed request the agent queues its
// log-stream seals (one probe per backoff step); at the highest level the agent runs once more
// with an API that answers them (scripts/lib/fake-api.mjs in this process, which writes the seal
// to PostgreSQL as the real API does): two seal requests per execution, as in production.
import { join } from 'node:path';
import { FakeAttuneApi } from '../../lib/fake-api.mjs';
import { BENCH_JWT_SECRET, startReadyAgent } from '../lib/agent.mjs';
import { NOOP_ACTION } from '../lib/harness.mjs';
import { envelope } from '../../lib/control-plane.mjs';
import { runAmqpConsume } from '../baselines/amqp-consume.mjs';
import { runCelery } from '../baselines/celery.mjs';
import { cpuByName, machineCpu, now, pgBackendsCpu, procCpu, progress, round, sleep } from '../lib/util.mjs';

export const CONCURRENCY = [1, 4, 16];
const SERVICES = ['postgres', 'beam.smp'];

async function agentRun(ctx, concurrency, messages, extraEnv = {}) {
  const { agent } = await startReadyAgent(ctx, { tag: `tp${concurrency}`, maxConcurrent: concurrency, extraEnv });
  let stopped = false;
  try {
    const executions = await ctx.harness.createExecutions(NOOP_ACTION, agent.workerId, messages);
    const ids = executions.map((e) => e.id);
    // Let the agent's start-up statements reach pg_stat_database (idle backends flush after ~1 s).
    await sleep(1200);
    const pg0 = await ctx.harness.pgCounters();
    const pub0 = ctx.harness.publishedCounts();
    const cpu0 = procCpu(agent.pid);
    const m0 = machineCpu();
    const s0 = cpuByName(SERVICES);
    const dbName = new URL(ctx.databaseUrl).pathname.slice(1);
    const own0 = pgBackendsCpu(dbName);
    const b0 = process.cpuUsage();
    const t0 = now();
    await ctx.harness.dispatchAll(executions, agent.workerId);
    await ctx.harness.waitAll(ids, { timeoutMs: 900_000 });
    const last = Math.max(...ids.map((id) => ctx.harness.completed.get(id).at));
    const seconds = (last - t0) / 1000;
    const cpu1 = procCpu(agent.pid);
    const m1 = machineCpu();
    const s1 = cpuByName(SERVICES);
    const own1 = pgBackendsCpu(dbName);
    const b1 = process.cpuUsage(b0);
    const bad = ctx.harness.failures(ids);
    if (Object.keys(bad).length > 0) throw new Error(`agent c=${concurrency}: executions did not complete: ${JSON.stringify(bad)}; log ${agent.logPath}`);
    // Where the CPU went (2 cores): the agent process itself, the actions it reaped, the machine.
    const cpu = {
      agentMsPerExecution: round((cpu1.selfMs - cpu0.selfMs) / messages, 3),
      // The same split in user and kernel time (syscalls: sockets, files, fork).
      agentUserMsPerExecution: round((cpu1.userMs - cpu0.userMs) / messages, 3),
      agentSystemMsPerExecution: round((cpu1.systemMs - cpu0.systemMs) / messages, 3),
      actionsMsPerExecution: round((cpu1.childrenMs - cpu0.childrenMs) / messages, 3),
      // The shared server also serves other databases: the bench database's backends alone.
      postgresMsPerExecution: round((own1 - own0) / messages, 3),
      postgresAllProcessesMsPerExecution: round((s1.postgres - s0.postgres) / messages, 3),
      rabbitmqMsPerExecution: round((s1['beam.smp'] - s0['beam.smp']) / messages, 3),
      benchHarnessMsPerExecution: round((b1.user + b1.system) / 1000 / messages, 3),
      machineBusyMsPerExecution: round((m1.busyMs - m0.busyMs) / messages, 3),
      machineBusyPct: round(((m1.busyMs - m0.busyMs) / (m1.totalMs - m0.totalMs)) * 100, 1),
    };
    const rssKiB = agent.memory()?.rssKiB ?? null;
    // Exiting backends flush their counters: read after the stop (adds its few statements).
    await agent.stop();
    stopped = true;
    const pg1 = await ctx.harness.pgCounters();
    const pub1 = ctx.harness.publishedCounts();
    const per = (a, b, k) => round(((b[k] ?? 0) - (a[k] ?? 0)) / messages, 2);
    const roundTrips = {
      sqlStatementsPerExecution: per(pg0, pg1, 'xacts'),
      tuplesReturnedPerExecution: per(pg0, pg1, 'tup_returned'),
      tuplesFetchedPerExecution: per(pg0, pg1, 'tup_fetched'),
      tuplesInsertedPerExecution: per(pg0, pg1, 'tup_inserted'),
      tuplesUpdatedPerExecution: per(pg0, pg1, 'tup_updated'),
      statusChangedPerExecution: per(pub0, pub1, 'execution.status.changed'),
      completedPerExecution: per(pub0, pub1, 'execution.completed'),
    };
    roundTrips.amqpPublishesPerExecution = round(roundTrips.statusChangedPerExecution + roundTrips.completedPerExecution, 2);
    return { seconds, perSecond: messages / seconds, rssKiB, cpu, roundTrips };
  } finally {
    if (!stopped) await agent.stop();
  }
}

export async function benchThroughput(ctx) {
  const messages = ctx.sizes.throughputExecutions;
  const command = ['/bin/bash', ctx.pack.noopScript];
  // Baselines get a body the size of a dispatch message (they pass it to the command's stdin).
  const body = JSON.stringify(envelope('ExecutionRequested', { execution_id: 1, worker_id: 1, action_ref: NOOP_ACTION, config: {}, scheduled_attempt_updated_at: new Date().toISOString(), release_id: 1, release_digest: '0'.repeat(64) }, 'executor'));
  const levels = [];
  for (const c of ctx.levels ?? CONCURRENCY) {
    progress(`throughput c=${c}: agent, ${messages} executions`);
    const agent = await agentRun(ctx, c, messages);
    progress(`throughput c=${c}: agent ${agent.perSecond.toFixed(1)}/s, ${agent.cpu.agentMsPerExecution} ms agent CPU per execution`);
    // --agent-only (A/B runs of the agent): the baselines are not run and their cells stay empty.
    const skipped = { perSecond: Number.NaN, seconds: Number.NaN };
    const amqpConsume = ctx.agentOnly ? skipped : await runAmqpConsume(ctx, { concurrency: c, messages, command, body });
    if (!ctx.agentOnly) progress(`throughput c=${c}: amqp-consume ${amqpConsume.perSecond.toFixed(1)}/s; celery`);
    const celery = ctx.agentOnly ? skipped : await runCelery(ctx, { concurrency: c, messages, command, body });
    if (!ctx.agentOnly) progress(`throughput c=${c}: celery ${celery.perSecond.toFixed(1)}/s`);
    levels.push({
      concurrency: c,
      executions: messages,
      agentPerSec: round(agent.perSecond, 1),
      amqpConsumePerSec: round(amqpConsume.perSecond, 1),
      celeryPerSec: round(celery.perSecond, 1),
      agentVsAmqpConsume: round(agent.perSecond / amqpConsume.perSecond, 3),
      agentVsCelery: round(agent.perSecond / celery.perSecond, 3),
      agentCpu: agent.cpu,
      agentRoundTrips: agent.roundTrips,
      seconds: { agent: round(agent.seconds, 3), amqpConsume: round(amqpConsume.seconds, 3), celery: round(celery.seconds, 3) },
    });
  }
  const withApi = await agentRunWithApi(ctx, Math.max(...levels.map((l) => l.concurrency)), messages);
  return { command: command.join(' '), executions: messages, levels, withApi };
}

/** The agent at `concurrency` with an Attune API answering its seals (see the file comment). */
async function agentRunWithApi(ctx, concurrency, messages) {
  progress(`throughput c=${concurrency}: agent with an Attune API answering the seals, ${messages} executions`);
  const api = new FakeAttuneApi({ jwtSecret: BENCH_JWT_SECRET, databaseUrl: ctx.databaseUrl, artifactsDir: join(ctx.work, 'artifacts'), schema: ctx.harness.cp.schema, keepAliveTimeoutMs: 65_000 });
  await api.start();
  try {
    const seals = () => api.requestsTo(/\/logs\/\d+\/seal$/).length;
    const before = seals();
    const r = await agentRun(ctx, concurrency, messages, { ATTUNE_API_URL: api.url });
    progress(`throughput c=${concurrency} with the API: agent ${r.perSecond.toFixed(1)}/s, ${r.cpu.agentMsPerExecution} ms agent CPU per execution`);
    return { concurrency, executions: messages, agentPerSec: round(r.perSecond, 1), agentCpu: r.cpu, agentRoundTrips: r.roundTrips, sealRequestsPerExecution: round((seals() - before) / messages, 2) };
  } finally {
    await api.close();
  }
}
