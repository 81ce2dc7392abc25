/**
 * Chaos soak (issue step 8): N executions at concurrency 8 through the real agent while, at
 * random intervals, one of three faults is injected:
 *   - mq:    `rabbitmqctl close_all_connections --vhost <the test vhost>` (no other vhost touched);
 *   - pg:    a fast restart of a PRIVATE PostgreSQL instance (pg_ctl stop -m fast, an outage of
 *            0.3–2 s, pg_ctl start) — the machine's shared cluster is never touched;
 *   - agent: SIGKILL of the agent, restarted right away (like a container restart policy).
 * The first three faults are one of each kind (in random order), so even a short run has all.
 *
 * The test's "executor" (what upstream's executor would do, simplified):
 *   - keeps at most 16 executions dispatched-but-unfinished (the agent runs 8 at a time);
 *   - publishes dispatches with confirms and re-publishes until confirmed (a lost confirm may
 *     deliver a dispatch twice: the agent must run it once);
 *   - an execution still `scheduled` STALL_MS after its last dispatch (and after the last fault)
 *     is dispatched again — its dispatch was lost or refused. Upstream's executor would instead
 *     fail such rows after 300 s (spec 02 §8.3); re-dispatching gives every execution a real
 *     run, which is the stricter check of the agent;
 *   - rows the agent leaves `running` are never touched: the agent's own start-up recovery must
 *     settle them as `abandoned`.
 * A "supervisor" restarts the agent whenever it exits on its own (a start-up that hits the
 * PostgreSQL outage gives up with exit 1 after its retries, as in a container).
 *
 * Invariants (database + recorded bus traffic, checked after the run):
 *   - every execution reaches a terminal status, and enters a terminal status exactly once
 *     (execution_history);
 *   - at most one ExecutionCompleted per execution (distinct envelope message_id), and at least
 *     one for every terminal row (the completion journal, issue 17) except a publish a broker
 *     fault left unconfirmed (never re-sent: at most once);
 *   - no row stuck in `running`/`scheduled` once the agent is back;
 *   - no process of the action left (its environment carries ATTUNE_PACK_REF=<unique pack>).
 * Figures printed: executions, faults by kind, statuses, lost, duplicated completions,
 * completions missing (terminal row but no message — see the report), duplicate action runs,
 * re-dispatches, agent restarts, throughput.
 *
 * Size: ATTUNE_CHAOS_EXECUTIONS (default 400; the full run is 5000).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeVhostConnections,
  createExecutions,
  createHarness,
  installPack,
  killAll,
  PrivatePostgres,
  processesWithEnv,
  psLines,
  queryRetry,
  randomHex,
  removeAgentBundle,
  sleep,
  TERMINAL,
  waitFor,
  type AgentHarness,
  type AgentProcess,
  type CreatedExecution,
  type InstalledPack,
} from '../support/chaos';
import { CHAOS_SEED, completionLogNotes, countFailedReasons, countStatuses, rand, random, readRunCounts, shuffle, workScript, type FaultKind, type FaultRecord } from './chaos-soak-support';

const EXECUTIONS = Number(process.env.ATTUNE_CHAOS_EXECUTIONS ?? 400);
const CONCURRENCY = 8;
const WINDOW = 16;
const STALL_MS = 15_000;
const [FAULT_MIN_MS, FAULT_MAX_MS] = (process.env.ATTUNE_CHAOS_FAULT_INTERVAL_MS ?? '2000-6000').split('-').map(Number) as [number, number];
/** Whole-run budget: generous per execution plus fault recovery. */
const RUN_BUDGET_MS = Number(process.env.ATTUNE_CHAOS_BUDGET_MS ?? 240_000 + EXECUTIONS * 150);

let server: PrivatePostgres;
let h: AgentHarness;
let pack: InstalledPack;
const packRef = `chaos_${randomHex(4)}`;
let runsFile: string;

beforeAll(async () => {
  console.log(`[chaos] fault schedule seed ${CHAOS_SEED} (replay: ATTUNE_CHAOS_SEED=${CHAOS_SEED})`);
  server = await PrivatePostgres.start();
  h = await createHarness({ server, agent: { maxConcurrentTasks: CONCURRENCY, shutdownTimeoutSec: 5 } });
  runsFile = join(h.ws.dir, 'runs.txt');
  appendFileSync(runsFile, '');
  // One run = one line "<execution id>" appended (O_APPEND: atomic for short lines), then a
  // random sleep of 0–300 ms read from the dotenv parameters, then a JSON result.
  const script = workScript(runsFile);
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: { 'actions/work.sh': script },
    actions: [{ name: 'work', entrypoint: 'work.sh', parameterFormat: 'dotenv', outputFormat: 'json', timeoutSec: 60 }],
  });
}, 300_000);

afterAll(async () => {
  killAll(processesWithEnv(`ATTUNE_PACK_REF=${packRef}`));
  await h?.dispose();
  await server?.destroy();
  removeAgentBundle();
}, 120_000);

describe(`chaos soak: ${EXECUTIONS} executions at concurrency ${CONCURRENCY} with broker, database and agent faults`, () => {
  it('every execution ends exactly once, with at most one ExecutionCompleted, nothing stuck and no orphan process', async () => {
    const started = Date.now();
    const faults: FaultRecord[] = [];
    let lastFaultEnd = 0;
    let agentRestartsByUs = 0;
    let agentExitsOnItsOwn = 0;
    const orphanSamples: number[] = [];

    // ---- agent + supervisor
    let agent: AgentProcess = await h.startAgent();
    const workerId = h.workerId as number;
    let stopping = false;
    const killedByUs = new WeakSet<AgentProcess>();
    let supervising: Promise<void> = Promise.resolve();
    const supervise = (a: AgentProcess): void => {
      void a.exited.then(async (exit) => {
        if (stopping || killedByUs.has(a)) return;
        agentExitsOnItsOwn++;
        console.log(`[chaos-soak] agent exited on its own (${JSON.stringify(exit)}); restarting`);
        await sleep(500);
        supervising = restart();
        await supervising;
      });
    };
    const restart = async (): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          agent = await h.startAgent();
          supervise(agent);
          return;
        } catch (e) {
          if (attempt >= 5) throw e;
          await sleep(1000);
        }
      }
    };
    supervise(agent);

    // ---- executions (all rows up front: no insert is ever in doubt during faults)
    const items = Array.from({ length: EXECUTIONS }, (_, i) => ({ action: 'work', parameters: { ms: (i * 37) % 300 } }));
    const created: CreatedExecution[] = await createExecutions(h.db.pool, pack, workerId, items);
    const ids = created.map((c) => c.id);
    const done = new Set<number>();
    const outstanding = new Map<number, number>(); // id → last dispatch time
    let redispatches = 0;
    let next = 0;

    h.recorder.onMessage((m) => {
      if (m.routingKey === 'execution.completed') {
        const id = Number(m.body.payload?.execution_id);
        if (outstanding.has(id)) {
          outstanding.delete(id);
          done.add(id);
        }
      }
    });

    // ---- faults
    let faultLoopDone = false;
    const faultLoop = (async () => {
      const kinds = shuffle<FaultKind>(['mq', 'pg', 'agent']);
      for (let n = 0; !faultLoopDone; n++) {
        // The first three come sooner, so a short run has each kind while work is in flight.
        await sleep(n < 3 ? rand(FAULT_MIN_MS / 2, FAULT_MAX_MS / 2) : rand(FAULT_MIN_MS, FAULT_MAX_MS));
        if (faultLoopDone) break;
        const kind: FaultKind = n < 3 ? (kinds[n] as FaultKind) : (['mq', 'pg', 'agent'][Math.floor(random() * 3)] as FaultKind);
        const t0 = Date.now();
        let note: string | undefined;
        try {
          if (kind === 'mq') {
            note = (await closeVhostConnections(h.vhost.vhost)).trim();
          } else if (kind === 'pg') {
            const down = Math.round(rand(300, 2000));
            await server.restart(down);
            note = `down ${down} ms`;
          } else {
            await supervising.catch(() => undefined);
            const victim = agent;
            killedByUs.add(victim);
            victim.kill('SIGKILL');
            await victim.exited;
            await sleep(50);
            const left = processesWithEnv(`ATTUNE_PACK_REF=${packRef}`).length;
            orphanSamples.push(left);
            note = `${left} action process(es) outlived it`;
            agentRestartsByUs++;
            supervising = restart();
            await supervising;
          }
        } catch (e) {
          note = `fault failed: ${(e as Error).message}`;
        }
        faults.push({ kind, atMs: t0 - started, tookMs: Date.now() - t0, note });
        lastFaultEnd = Date.now();
      }
    })();

    // ---- executor loop
    const deadline = started + RUN_BUDGET_MS;
    let lastPoll = 0;
    while (done.size < ids.length && Date.now() < deadline) {
      // The last quarter waits for one fault of each kind, so even a short run has all three
      // while executions are in flight.
      const allKindsSeen = new Set(faults.map((f) => f.kind)).size === 3;
      const holdBack = allKindsSeen ? ids.length : Math.floor(ids.length * 0.75);
      while (outstanding.size < WINDOW && next < holdBack) {
        const id = ids[next++] as number;
        outstanding.set(id, Date.now());
        await h.dispatcher.dispatch(id, workerId, pack, `${packRef}.work`);
      }
      if (Date.now() - lastPoll > 500 && outstanding.size > 0) {
        lastPoll = Date.now();
        const res = await queryRetry<{ id: string; status: string }>(h.db.pool, 'SELECT id, status FROM execution WHERE id = ANY($1::bigint[])', [[...outstanding.keys()]]);
        for (const r of res.rows) {
          const id = Number(r.id);
          if (TERMINAL.has(r.status)) {
            outstanding.delete(id);
            done.add(id);
          } else if (r.status === 'scheduled') {
            const last = outstanding.get(id) as number;
            if (Date.now() - Math.max(last, lastFaultEnd) > STALL_MS) {
              redispatches++;
              outstanding.set(id, Date.now());
              await h.dispatcher.dispatch(id, workerId, pack, `${packRef}.work`);
            }
          }
        }
      }
      await sleep(20);
    }
    faultLoopDone = true;
    await faultLoop;
    await supervising.catch(() => undefined);
    const runMs = Date.now() - started;

    // ---- the agent is back: let recovery and in-flight work settle
    await waitFor('the agent to be up after the last fault', () => agent.alive, 60_000);
    let rows = new Map<number, string>();
    await waitFor(
      'every execution to be terminal',
      async () => {
        const res = await queryRetry<{ id: string; status: string }>(h.db.pool, 'SELECT id, status FROM execution WHERE id = ANY($1::bigint[])', [ids]);
        rows = new Map(res.rows.map((r) => [Number(r.id), r.status]));
        return ids.every((id) => TERMINAL.has(rows.get(id) ?? ''));
      },
      60_000,
      500,
    ).catch(() => undefined);
    await sleep(2000); // the last completions to reach the recorder

    // ---- invariants
    const statusCounts = countStatuses(ids, rows);
    const lost = ids.filter((id) => !TERMINAL.has(rows.get(id) ?? ''));
    const terminalEntries = await queryRetry<{ id: string; n: string }>(
      h.db.pool,
      `SELECT entity_id AS id, count(*) AS n FROM execution_history
       WHERE entity_id = ANY($1::bigint[]) AND 'status' = ANY(changed_fields)
         AND new_values->>'status' IN ('completed','failed','cancelled','timeout','abandoned')
       GROUP BY entity_id`,
      [ids],
    );
    const terminalTimes = new Map(terminalEntries.rows.map((r) => [Number(r.id), Number(r.n)]));
    const notExactlyOnceTerminal = ids.filter((id) => terminalTimes.get(id) !== 1);
    // Upstream's trg_audit_execution_lifecycle (spec 07 §7.5) fired through every fault: one
    // terminal audit event per execution, in the partitioned audit_event.
    const auditTerminal = await queryRetry<{ id: string; n: string }>(
      h.db.pool,
      `SELECT resource_id AS id, count(*) AS n FROM audit_event
       WHERE resource_type = 'execution' AND resource_id = ANY($1::bigint[])
         AND details->>'new_status' IN ('completed','failed','cancelled','timeout','abandoned')
       GROUP BY resource_id`,
      [ids],
    );
    const auditTimes = new Map(auditTerminal.rows.map((r) => [Number(r.id), Number(r.n)]));
    const auditNotExactlyOnce = ids.filter((id) => auditTimes.get(id) !== 1);
    const completions = h.recorder.completionCounts();
    const duplicated = ids.filter((id) => (completions.get(id) ?? 0) > 1);
    const missingCompletion = ids.filter((id) => TERMINAL.has(rows.get(id) ?? '') && (completions.get(id) ?? 0) === 0);
    const runs = readRunCounts(runsFile);
    const duplicateRuns = ids.filter((id) => (runs.get(id) ?? 0) > 1);
    const completedWithoutRun = ids.filter((id) => rows.get(id) === 'completed' && (runs.get(id) ?? 0) === 0);
    const stuck = await queryRetry<{ n: string }>(h.db.pool, "SELECT count(*) AS n FROM execution WHERE id = ANY($1::bigint[]) AND status IN ('running','scheduled','requested','scheduling','canceling')", [ids]);

    // Orphans: a SIGKILLed agent cannot stop its actions; these are short and end by themselves.
    const orphans = await waitFor('action processes to be gone', () => processesWithEnv(`ATTUNE_PACK_REF=${packRef}`).length === 0 || null, 10_000).then(
      () => [],
      () => processesWithEnv(`ATTUNE_PACK_REF=${packRef}`),
    );

    // The same check as a person would do it: `ps` lines naming the action's script path.
    const psLeft = await psLines(pack.digest);

    // Graceful stop at the end: exit 0.
    stopping = true;
    agent.kill('SIGTERM');
    const finalExit = await agent.waitExit(60_000);

    const log = h.readLog();
    // Why executions did not complete (fault-induced failures), and the missing completions.
    const notCompleted = await queryRetry<{ id: string; status: string; error: string | null }>(
      h.db.pool,
      "SELECT id, status, result->>'error' AS error FROM execution WHERE id = ANY($1::bigint[]) AND status NOT IN ('completed', 'abandoned')",
      [ids],
    );
    const failedReasons = countFailedReasons(notCompleted.rows);
    const missingByStatus: Record<string, number> = {};
    for (const id of missingCompletion) missingByStatus[rows.get(id) as string] = (missingByStatus[rows.get(id) as string] ?? 0) + 1;

    // A completion whose publish was cut by a broker fault (sent, not confirmed) is never re-sent
    // (a duplicate double-releases the action's slot): that is the broker fault, not the agent's
    // SIGKILL. Every other terminal row must have had its ExecutionCompleted (issue 17).
    const { maybeDeliveredIds, journalResent } = completionLogNotes(log);
    const lostCompletions = missingCompletion.filter((id) => !maybeDeliveredIds.has(id));

    const faultsByKind = { mq: 0, pg: 0, agent: 0 } as Record<FaultKind, number>;
    for (const f of faults) faultsByKind[f.kind]++;
    const figures = {
      executions: ids.length,
      concurrency: CONCURRENCY,
      runSeconds: Math.round(runMs / 100) / 10,
      throughputPerSec: Math.round((ids.length / (runMs / 1000)) * 10) / 10,
      faultsInjected: faults.length,
      faultsByKind,
      statuses: statusCounts,
      lost: lost.length,
      notExactlyOnceTerminal: notExactlyOnceTerminal.length,
      auditNotExactlyOnceTerminal: auditNotExactlyOnce.length,
      duplicatedCompletions: duplicated.length,
      completionsMissing: missingCompletion.length,
      completionsMissingByStatus: missingByStatus,
      lostCompletions: lostCompletions.length,
      completionsUnconfirmedByBrokerFaults: maybeDeliveredIds.size,
      completionsResentFromJournal: journalResent.size,
      // The same envelope published again (confirm not seen before a SIGKILL or a broker fault):
      // a redelivery to consumers, counted apart from duplicates (which have their own message id).
      completionRedeliveriesSeen: h.recorder.redeliveries,
      failedReasons,
      duplicateActionRuns: duplicateRuns.length,
      completedWithoutRun: completedWithoutRun.length,
      stuckOpen: Number(stuck.rows[0]?.n ?? -1),
      redispatches,
      dispatchPublishRetries: h.dispatcher.retries,
      recorderReconnects: h.recorder.reconnects,
      agentSigkills: agentRestartsByUs,
      agentExitsOnItsOwn,
      actionProcessesOutlivingSigkill: orphanSamples,
      orphansAtEnd: orphans.length,
      psLinesAtEnd: psLeft.length,
      malformedRejected: (log.match(/malformed message rejected/g) ?? []).length,
      handlerFailedNotRequeued: (log.match(/"requeue":false[^\n]*message handler failed|message handler failed[^\n]*"requeue":false/g) ?? []).length,
      finalExit,
    };
    console.log(`[chaos-soak] figures ${JSON.stringify(figures, null, 2)}`);
    console.log(`[chaos-soak] faults ${JSON.stringify(faults)}`);
    if (lost.length > 0) console.log(`[chaos-soak] lost: ${lost.slice(0, 20).map((id) => `${id}:${rows.get(id)}`).join(', ')}`);
    if (duplicateRuns.length > 0) console.log(`[chaos-soak] executions whose action ran more than once: ${duplicateRuns.slice(0, 20).join(', ')}`);
    if (orphans.length > 0) console.log(`[chaos-soak] orphans: ${orphans.map((p) => `${p.pid} ${p.args}`).join('; ')}`);

    expect(faultsByKind.mq).toBeGreaterThanOrEqual(1);
    expect(faultsByKind.pg).toBeGreaterThanOrEqual(1);
    expect(faultsByKind.agent).toBeGreaterThanOrEqual(1);
    expect(faults.filter((f) => f.note?.startsWith('fault failed'))).toEqual([]);
    expect(lost).toEqual([]);
    expect(notExactlyOnceTerminal).toEqual([]);
    expect(auditNotExactlyOnce).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(lostCompletions).toEqual([]);
    expect(figures.stuckOpen).toBe(0);
    expect(completedWithoutRun).toEqual([]);
    expect(orphans).toEqual([]);
    expect(psLeft).toEqual([]);
    expect(finalExit).toEqual({ code: 0, signal: null });
  });
});
