/**
 * The completion journal against real PostgreSQL (issue 17): a terminal write journaled before it
 * is sent, a "crash" between the write and ExecutionCompleted, and the replay of a restarted
 * agent — exactly one completion for a write that happened, none for one that did not or that
 * someone else made; a lost reply of a committed write still gets its completion.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { abandonExecution } from '../../../src/db/queries/abandon-execution';
import { completeExecution } from '../../../src/db/queries/complete-execution';
import { completeExecutions } from '../../../src/db/queries/complete-executions';
import type { Queryable } from '../../../src/db/rows';
import { CompletionJournal, canonicalJson } from '../../../src/worker/completion-journal';
import { journaledDb, journaledPublisher, replayCompletionJournal, wireStatusesOfRow } from '../../../src/worker/completion-replay';
import { registerWorker } from '../../../src/worker/registration';
import { createTestDatabase, type TestDatabase } from '../../support/db';

const log = createSilentLogger();
let db: TestDatabase;
let workerId: number;
let actionId: number;
let dir: string;

interface Sent {
  type: 'status' | 'completed';
  executionId: number;
  status?: string;
  result?: unknown;
  messageId?: string;
}

/** Records what is published; `failures` are thrown (in order) before anything is accepted. */
function fakePublisher(failures: Array<'maybe' | 'not-sent'> = []) {
  const sent: Sent[] = [];
  const attempts: string[] = [];
  return {
    sent,
    attempts,
    async publishExecutionStatusChanged(input: { executionId: number; newStatus: string }, o?: { envelope?: { messageId: string } }) {
      sent.push({ type: 'status', executionId: input.executionId, status: input.newStatus, messageId: o?.envelope?.messageId });
      return {} as never;
    },
    async publishExecutionCompleted(input: { executionId: number; status: string; result: unknown }, o?: { envelope?: { messageId: string } }) {
      attempts.push(o?.envelope?.messageId ?? 'none');
      const f = failures.shift();
      if (f) throw Object.assign(new Error('broker gone'), { maybeDelivered: f === 'maybe' });
      sent.push({ type: 'completed', executionId: input.executionId, status: input.status, result: input.result, messageId: o?.envelope?.messageId });
      return {} as never;
    },
  };
}

const completedInput = (id: number) => ({ executionId: id, actionId, actionRef: 'jpack.run', status: 'Completed' as const, result: RESULT, completedAt: new Date() });

beforeAll(async () => {
  db = await createTestDatabase();
  const worker = await registerWorker(
    db.pool,
    { name: 'journal-worker', workerType: 'container', workerRole: 'action', runtime: null, host: 'h', port: null },
    { runtimes: ['shell'] },
    log,
  );
  workerId = worker.id;
  const pack = await db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('jpack', 'J', '1.0.0') RETURNING id");
  const shell = await db.pool.query("SELECT id FROM runtime WHERE ref = 'core.shell'");
  const action = await db.pool.query(
    "INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime) VALUES ('jpack.run', $1, 'jpack', 'Run', 'run.sh', $2) RETURNING id",
    [pack.rows[0].id, shell.rows[0].id],
  );
  actionId = Number(action.rows[0].id);
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'attune-journal-'));
});

/** The execution ids a process starting now would find in the journal directory. */
const onDisk = () => CompletionJournal.entriesOnDisk(dir).map((e) => e.executionId);

async function runningExecution(): Promise<number> {
  const res = await db.pool.query(
    `INSERT INTO execution (action, action_ref, status, worker, config) VALUES ($1, 'jpack.run', 'running', $2, '{}') RETURNING id`,
    [actionId, workerId],
  );
  return Number(res.rows[0].id);
}

const RESULT = { exit_code: 0, succeeded: true, stdout: 'ok\n', duration_ms: 12, nested: { z: 1, a: [1, 2, { y: 'x', b: null }] } };

describe('completion journal', () => {
  it('hashes the result the same as PostgreSQL hands it back (jsonb reorders keys)', async () => {
    const id = await runningExecution();
    await completeExecution(db.pool, { id, status: 'completed', result: RESULT });
    const back = await db.pool.query('SELECT result FROM execution WHERE id = $1', [id]);
    expect(JSON.stringify(back.rows[0].result)).not.toBe(JSON.stringify(RESULT)); // premise: order differs
    expect(canonicalJson(back.rows[0].result)).toBe(canonicalJson(RESULT));
  });

  it('replays a write whose completion was never sent (agent killed in between): exactly one ExecutionCompleted', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    // First life: the write goes through the journaled pool, then the process "dies".
    expect(await completeExecution(journaledDb(db.pool, journal, log), { id, status: 'failed', result: { ...RESULT, exit_code: 3, succeeded: false } })).not.toBeNull();
    expect(onDisk()).toEqual([id]);

    // Second life: replay.
    const pub = fakePublisher();
    const again = await CompletionJournal.open(dir);
    expect(await replayCompletionJournal({ journal: again, db: db.pool, publisher: journaledPublisher(pub, again, log), log })).toBe(1);
    expect(pub.sent).toMatchObject([
      { type: 'status', executionId: id, status: 'completed' },
      { type: 'completed', executionId: id, status: 'Completed', result: { ...RESULT, exit_code: 3, succeeded: false } },
    ]);
    expect(onDisk()).toEqual([]);
    // Third life: nothing left to send.
    expect(await replayCompletionJournal({ journal: again, db: db.pool, publisher: journaledPublisher(pub, again, log), log })).toBe(0);
    expect(pub.sent.filter((m) => m.type === 'completed')).toHaveLength(1);
  });

  it('journals every write of a batched terminal UPDATE (terminal-writes.ts) and replays each', async () => {
    const a = await runningExecution();
    const b = await runningExecution();
    const closed = await runningExecution();
    await abandonExecution(db.pool, closed, { succeeded: false, error: 'settled elsewhere' });
    const journal = await CompletionJournal.open(dir);
    const rows = await completeExecutions(journaledDb(db.pool, journal, log), [
      { id: a, status: 'completed', result: RESULT },
      { id: b, status: 'failed', result: { ...RESULT, exit_code: 1, succeeded: false } },
      { id: closed, status: 'completed', result: RESULT },
    ]);
    expect([...rows.keys()].sort()).toEqual([a, b].sort());
    // The row someone else closed is not ours to announce: its entry is gone, the others stay.
    expect(onDisk().sort()).toEqual([a, b].sort());

    const pub = fakePublisher();
    const again = await CompletionJournal.open(dir);
    expect(await replayCompletionJournal({ journal: again, db: db.pool, publisher: journaledPublisher(pub, again, log), log })).toBe(2);
    expect(pub.sent.filter((m) => m.type === 'completed').map((m) => [m.executionId, m.status]).sort()).toEqual([[a, 'Completed'], [b, 'Completed']].sort());
    expect(onDisk()).toEqual([]);
  });

  it('sends nothing for a journaled write that never reached PostgreSQL (row still running)', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    await journal.begin(id, 'completed', RESULT); // killed before the UPDATE
    const pub = fakePublisher();
    expect(await replayCompletionJournal({ journal, db: db.pool, publisher: journaledPublisher(pub, journal, log), log })).toBe(0);
    expect(pub.sent).toEqual([]);
    expect(onDisk()).toEqual([]);
  });

  it('sends nothing when someone else finished the row (other status or result)', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    await journal.begin(id, 'completed', RESULT);
    await abandonExecution(db.pool, id, { succeeded: false, error: 'marked by the executor' });
    const pub = fakePublisher();
    expect(await replayCompletionJournal({ journal, db: db.pool, publisher: journaledPublisher(pub, journal, log), log })).toBe(0);
    expect(pub.sent).toEqual([]);
  });

  it('keeps the entry until the completion is confirmed, re-publishing a maybe-delivered one with the same envelope', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    await completeExecution(journaledDb(db.pool, journal, log), { id, status: 'completed', result: RESULT });
    // Not sent (no channel): the caller retries; the entry stays.
    const down = fakePublisher(['not-sent']);
    await expect(journaledPublisher(down, journal, log).publishExecutionCompleted(completedInput(id))).rejects.toThrow();
    expect(onDisk()).toEqual([id]);
    // Sent but not confirmed, twice, then confirmed: one envelope throughout (a redelivery to consumers).
    const flaky = fakePublisher(['maybe', 'maybe']);
    await journaledPublisher(flaky, journal, log).publishExecutionCompleted(completedInput(id));
    expect(new Set([...down.attempts, ...flaky.attempts]).size).toBe(1);
    expect(flaky.sent).toHaveLength(1);
    expect(onDisk()).toEqual([]);
  });

  it('replays a completion the killed process had handed out with the same message id', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    await completeExecution(journaledDb(db.pool, journal, log), { id, status: 'completed', result: RESULT });
    // The process is "killed" while waiting for the confirm: maybe delivered, retries exhausted.
    const lost = fakePublisher(['maybe', 'maybe', 'maybe', 'maybe', 'maybe', 'maybe', 'maybe', 'maybe']);
    await expect(journaledPublisher(lost, journal, log, { maybeRetryMs: 0 }).publishExecutionCompleted(completedInput(id))).rejects.toThrow();
    const firstId = lost.attempts[0];
    const again = await CompletionJournal.open(dir);
    const pub = fakePublisher();
    expect(await replayCompletionJournal({ journal: again, db: db.pool, publisher: journaledPublisher(pub, again, log), log })).toBe(1);
    expect(pub.sent.filter((m) => m.type === 'completed').map((m) => m.messageId)).toEqual([firstId]);
    expect(onDisk()).toEqual([]);
  });

  it('returns the row for a retried write whose first attempt committed but lost its reply', async () => {
    const id = await runningExecution();
    const journal = await CompletionJournal.open(dir);
    let calls = 0;
    // The first UPDATE commits, then the connection "breaks" before the reply arrives.
    const flaky: Queryable = {
      async query(text, values) {
        const res = await db.pool.query(text, values);
        if (++calls === 1) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        return res;
      },
    };
    const jdb = journaledDb(flaky, journal, log);
    await expect(completeExecution(jdb, { id, status: 'timeout', result: { ...RESULT, timed_out: true } })).rejects.toThrow();
    const retried = await completeExecution(jdb, { id, status: 'timeout', result: { ...RESULT, timed_out: true } });
    expect(retried).toMatchObject({ id, status: 'timeout' });
    // A genuinely different terminal write by someone else still yields null.
    const other = await runningExecution();
    await journal.begin(other, 'completed', RESULT);
    await abandonExecution(db.pool, other, { succeeded: false });
    expect(await completeExecution(journaledDb(db.pool, journal, log), { id: other, status: 'completed', result: RESULT })).toBeNull();
    expect(onDisk()).toEqual([id]);
  });

  it('fails at once (no hang) for a state dir that cannot be created', async () => {
    // Node's recursive mkdir spins forever on this one; the agent then runs without a journal.
    await expect(CompletionJournal.open('/proc/attune-none/worker-1/pending-completions')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(CompletionJournal.open('/etc/hostname/x')).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('maps row statuses to the wire statuses the live path sends (spec 02 §5.3)', () => {
    expect(wireStatusesOfRow({ status: 'completed', result: { exit_code: 0 } })).toEqual({ newStatus: 'completed', completionStatus: 'Completed' });
    expect(wireStatusesOfRow({ status: 'failed', result: { exit_code: 1 } })).toEqual({ newStatus: 'completed', completionStatus: 'Completed' });
    expect(wireStatusesOfRow({ status: 'timeout', result: { exit_code: -1, timed_out: true } })).toEqual({ newStatus: 'completed', completionStatus: 'Completed' });
    expect(wireStatusesOfRow({ status: 'failed', result: { succeeded: false, error: 'Runtime not found' } })).toEqual({ newStatus: 'failed', completionStatus: 'Failed' });
    expect(wireStatusesOfRow({ status: 'cancelled', result: null })).toEqual({ newStatus: 'cancelled', completionStatus: 'Cancelled' });
    expect(wireStatusesOfRow({ status: 'abandoned', result: null })).toEqual({ newStatus: 'abandoned', completionStatus: 'Abandoned' });
  });
});
