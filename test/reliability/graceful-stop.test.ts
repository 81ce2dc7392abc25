/**
 * Graceful stop under load (issue step 8): 50 executions running at once (max_concurrent_tasks
 * 50), each sleeping 1–8 s, then SIGTERM with worker.shutdown_timeout 5 s. Executions that end
 * within the budget finish normally (`completed`, one `Completed`); the rest are stopped and
 * recorded `abandoned` with one `Abandoned` completion each; the agent exits 0 and leaves no
 * process of the action behind.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutions,
  createHarness,
  installPack,
  killAll,
  processesWithEnv,
  randomHex,
  removeAgentBundle,
  sleep,
  waitFor,
  type AgentHarness,
  type InstalledPack,
} from '../support/chaos';

const N = 50;
const SHUTDOWN_TIMEOUT_SEC = 5;
/** Executions whose natural end is this close to the shutdown deadline are not classified. */
const MARGIN_MS = 800;

let h: AgentHarness;
let pack: InstalledPack;
const packRef = `graceful_${randomHex(4)}`;
let runsFile: string;

beforeAll(async () => {
  h = await createHarness({ agent: { maxConcurrentTasks: N, shutdownTimeoutSec: SHUTDOWN_TIMEOUT_SEC } });
  runsFile = join(h.ws.dir, 'runs.txt');
  appendFileSync(runsFile, '');
  const script = [
    '#!/bin/bash',
    'seconds=1',
    'while IFS= read -r line; do case "$line" in seconds=*) eval "seconds=${line#seconds=}" ;; esac; done',
    // The start time as the action saw it (µs), so the test knows when each sleep ends.
    `echo "$ATTUNE_EXEC_ID $EPOCHREALTIME" >> '${runsFile}'`,
    'sleep "$seconds"',
    'echo "slept $seconds"',
    '',
  ].join('\n');
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: { 'actions/nap.sh': script },
    actions: [{ name: 'nap', entrypoint: 'nap.sh', parameterFormat: 'dotenv', timeoutSec: 60 }],
  });
}, 120_000);

afterAll(async () => {
  killAll(processesWithEnv(`ATTUNE_PACK_REF=${packRef}`));
  await h?.dispose();
  removeAgentBundle();
}, 60_000);

describe('SIGTERM during 50 running executions (shutdown_timeout 5 s)', () => {
  it('finishes what ends within the budget, abandons the rest with one Abandoned completion each, exits 0, leaves no process', async () => {
    const agent = await h.startAgent();
    const workerId = h.workerId as number;
    const created = await createExecutions(
      h.db.pool,
      pack,
      workerId,
      Array.from({ length: N }, (_, i) => ({ action: 'nap', parameters: { seconds: (i % 8) + 1 } })),
    );
    const seconds = new Map(created.map((c, i) => [c.id, (i % 8) + 1]));
    for (const c of created) await h.dispatcher.dispatch(c.id, workerId, pack, c.actionRef);

    // All 50 processes are running (each wrote its start line).
    const starts = await waitFor(
      'all 50 actions to be running',
      () => {
        const lines = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean);
        if (lines.length < N) return null;
        return new Map(lines.map((l) => [Number(l.split(' ')[0]), Number(l.split(' ')[1]) * 1000]));
      },
      60_000,
      50,
    );
    const running = processesWithEnv(`ATTUNE_PACK_REF=${packRef}`).length;
    const termAt = Date.now();
    agent.kill('SIGTERM');
    const exit = await agent.waitExit(60_000);
    const exitAfterMs = Date.now() - termAt;
    await sleep(300);
    const leftover = processesWithEnv(`ATTUNE_PACK_REF=${packRef}`);
    await sleep(1500); // the last completions to reach the recorder

    const rows = await h.db.pool.query<{ id: string; status: string; result: Record<string, unknown> | null }>(
      'SELECT id, status, result FROM execution WHERE id = ANY($1::bigint[])',
      [created.map((c) => c.id)],
    );
    const deadline = termAt + SHUTDOWN_TIMEOUT_SEC * 1000;
    let expectCompleted = 0;
    let expectAbandoned = 0;
    let unclassified = 0;
    const wrong: string[] = [];
    const statusCounts: Record<string, number> = {};
    for (const r of rows.rows) {
      const id = Number(r.id);
      statusCounts[r.status] = (statusCounts[r.status] ?? 0) + 1;
      const endsAt = (starts.get(id) as number) + (seconds.get(id) as number) * 1000;
      const completions = h.recorder.completionsFor(id).map((m) => m.body.payload?.status);
      if (endsAt < deadline - MARGIN_MS) {
        expectCompleted++;
        if (r.status !== 'completed' || completions.join() !== 'Completed') wrong.push(`${id}: ${r.status} ${completions.join('+')} (expected completed)`);
      } else if (endsAt > deadline + MARGIN_MS) {
        expectAbandoned++;
        const error = String(r.result?.error ?? '');
        if (r.status !== 'abandoned' || completions.join() !== 'Abandoned' || !error.includes('shutdown_timeout')) {
          wrong.push(`${id}: ${r.status} ${completions.join('+')} error=${error} (expected abandoned)`);
        }
      } else {
        unclassified++;
        // Either outcome is fine this close to the deadline, but it must be one of the two, once.
        if (!['completed', 'abandoned'].includes(r.status) || completions.length !== 1) wrong.push(`${id}: ${r.status} ${completions.join('+')} (near the deadline)`);
      }
    }
    console.log(
      `[graceful-stop] figures ${JSON.stringify({ executions: N, actionProcessesAtSigterm: running, exit, exitAfterMs, statusCounts, expectCompleted, expectAbandoned, unclassified, leftoverProcesses: leftover.length })}`,
    );

    expect(running).toBeGreaterThanOrEqual(N);
    expect(exit).toEqual({ code: 0, signal: null });
    // The budget, the 10 s kill grace is not needed (sleep obeys SIGTERM), plus settling.
    expect(exitAfterMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_SEC * 1000 - 200);
    expect(exitAfterMs).toBeLessThan(SHUTDOWN_TIMEOUT_SEC * 1000 + 10_000);
    expect(wrong).toEqual([]);
    expect(expectCompleted).toBeGreaterThan(5);
    expect(expectAbandoned).toBeGreaterThan(5);
    expect(leftover).toEqual([]);
    const log = h.readLog();
    expect(log).toContain('shutdown_timeout reached');
    expect(log).toContain('attune-agent stopped');
  });
});
