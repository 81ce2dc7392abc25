/**
 * "No lost completion" (issue 17, spec 02 §5.4 invariants 1–2): the completion journal wired
 * around the execution service's two edges, so service.ts keeps its order of durable steps:
 *
 *   journaledDb:        a terminal UPDATE (complete/abandon) is journaled before it is sent;
 *                       when it updates nothing, the row is re-read: if it holds exactly our
 *                       status and result, an earlier attempt of this same write committed and
 *                       only its reply was lost (PostgreSQL restart), so the row is returned and
 *                       the completion still goes out; otherwise someone else finished it.
 *   journaledPublisher: a confirmed ExecutionCompleted clears the entry; so does an unconfirmed
 *                       one (maybe delivered: never re-sent, a duplicate double-releases the
 *                       action's slot).
 *   replayCompletionJournal (start-up): an entry whose row holds our terminal write gets its
 *                       ExecutionStatusChanged + ExecutionCompleted now; any other entry is dropped
 *                       (a row still `running` is settled by recoverAbandoned).
 *
 * Guarantee: every terminal status this agent wrote gets one ExecutionCompleted, across SIGKILL
 * and restarts with the journal volume kept; a second one only if the agent dies in the instant
 * between the broker's confirm and the unlink of the entry (at-least-once in that window, not
 * at-most-once as before).
 */
import type { Logger } from '../log';
import type { Queryable, QueryResultLike } from '../db/rows';
import { mapExecutionRow, type ExecutionRow } from '../db/models/execution';
import { ABANDON_EXECUTION_SQL } from '../db/queries/abandon-execution';
import { COMPLETE_EXECUTION_SQL } from '../db/queries/complete-execution';
import { GET_EXECUTION_SQL, getExecution } from '../db/queries/get-execution';
import type { CompletionStatus } from '../mq/messages';
import type { Publisher } from '../mq/publisher';
import { toError } from '../errors';
import { sleep } from '../util/sleep';
import { resultHash, type CompletionJournal, type JournalEntry } from './completion-journal';

type CompletionPublisher = Pick<Publisher, 'publishExecutionStatusChanged' | 'publishExecutionCompleted'>;

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

/** The terminal write a statement makes, or null for any other statement. */
function terminalWriteOf(text: string, values: readonly unknown[] | undefined): { id: number; status: string; result: unknown } | null {
  if (!values) return null;
  const parse = (v: unknown): unknown => (typeof v === 'string' ? (JSON.parse(v) as unknown) : null);
  if (text === COMPLETE_EXECUTION_SQL) return { id: Number(values[0]), status: String(values[1]), result: parse(values[2]) };
  if (text === ABANDON_EXECUTION_SQL) return { id: Number(values[0]), status: 'abandoned', result: parse(values[1]) };
  return null;
}

function holdsOurWrite(row: ExecutionRow, entry: Pick<JournalEntry, 'status' | 'resultHash'>): boolean {
  return row.status === entry.status && resultHash(row.result) === entry.resultHash;
}

/** `db` with terminal writes journaled (see the file comment). */
export function journaledDb(db: Queryable, journal: CompletionJournal, log: Logger): Queryable {
  let warned = false;
  return {
    async query(text: string, values?: unknown[]): Promise<QueryResultLike> {
      const write = terminalWriteOf(text, values);
      if (!write) return db.query(text, values);
      let entry: JournalEntry | null = null;
      try {
        entry = await journal.begin(write.id, write.status, write.result);
      } catch (e) {
        // The journal protects against a crash; it must never fail an execution by itself.
        if (!warned) log.warn({ err: toError(e), dir: journal.dir }, 'cannot write the completion journal; a completion may be lost if the agent is killed now');
        warned = true;
      }
      const res = await db.query(text, values);
      if (res.rows.length > 0 || !entry) return res;
      const now = await db.query(GET_EXECUTION_SQL, [write.id]);
      const raw = now.rows[0];
      if (raw && holdsOurWrite(mapExecutionRow(raw), entry)) {
        log.info({ executionId: write.id, status: write.status }, 'terminal status was already written by an earlier attempt (reply lost); sending its completion');
        return { ...now, rows: [raw] };
      }
      await journal.end(write.id).catch(() => undefined);
      return res;
    },
  };
}

/** `publisher` clearing journal entries once their ExecutionCompleted is settled. */
export function journaledPublisher(publisher: CompletionPublisher, journal: CompletionJournal): CompletionPublisher {
  return {
    publishExecutionStatusChanged: (input, opts) => publisher.publishExecutionStatusChanged(input, opts),
    async publishExecutionCompleted(input, opts) {
      try {
        const env = await publisher.publishExecutionCompleted(input, opts);
        await journal.end(input.executionId).catch(() => undefined);
        return env;
      } catch (e) {
        if ((e as { maybeDelivered?: boolean }).maybeDelivered === true) await journal.end(input.executionId).catch(() => undefined);
        throw e;
      }
    },
  };
}

/** spec 02 §5.3 wire statuses, recovered from the row (the outcome's phase is not stored). */
export function wireStatusesOfRow(row: Pick<ExecutionRow, 'status' | 'result'>): { newStatus: string; completionStatus: CompletionStatus } {
  if (row.status === 'cancelled') return { newStatus: 'cancelled', completionStatus: 'Cancelled' };
  if (row.status === 'abandoned') return { newStatus: 'abandoned', completionStatus: 'Abandoned' };
  // A run that produced a result (any exit code, timeout) is `completed` on the wire; a failure
  // before or around the run (buildFailureOutcome: no exit_code) is `failed`.
  const ran = row.result !== null && typeof row.result === 'object' && !Array.isArray(row.result) && 'exit_code' in row.result;
  if (row.status === 'completed' || ran) return { newStatus: 'completed', completionStatus: 'Completed' };
  return { newStatus: 'failed', completionStatus: 'Failed' };
}

export interface ReplayOptions {
  journal: CompletionJournal;
  /** The plain pool (not journaledDb). */
  db: Queryable;
  /** journaledPublisher, so a sent completion clears its entry. */
  publisher: CompletionPublisher;
  log: Logger;
}

/** Settle what a killed agent left in the journal. Returns how many completions were sent. */
export async function replayCompletionJournal(opts: ReplayOptions): Promise<number> {
  const { journal, log } = opts;
  let sent = 0;
  for (const entry of await journal.pending()) {
    const elog = log.child({ executionId: entry.executionId });
    const row = await getExecution(opts.db, entry.executionId);
    if (!row || !TERMINAL.has(row.status) || !holdsOurWrite(row, entry)) {
      // Not written (still running: recoverAbandoned settles it), or finished by someone else.
      elog.info({ status: row?.status ?? null, journaled: entry.status }, 'journaled completion not owed: the terminal write did not happen or is not ours');
      await journal.end(entry.executionId);
      continue;
    }
    if (row.action === null) {
      await journal.end(entry.executionId); // spec 02 §5.2: no completion without an action id
      continue;
    }
    const wire = wireStatusesOfRow(row);
    try {
      await opts.publisher.publishExecutionStatusChanged({ executionId: row.id, actionRef: row.actionRef, previousStatus: row.status, newStatus: wire.newStatus, changedAt: new Date() });
    } catch (e) {
      elog.warn({ err: toError(e) }, 'could not publish ExecutionStatusChanged for a journaled completion');
    }
    if (await publishWithRetry(opts.publisher, row, wire.completionStatus, elog)) {
      sent++;
      elog.warn({ status: row.status }, 'ExecutionCompleted sent after restart: the previous agent process was stopped between the final status and its completion');
    }
  }
  return sent;
}

async function publishWithRetry(publisher: CompletionPublisher, row: ExecutionRow, status: CompletionStatus, log: Logger): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await publisher.publishExecutionCompleted({ executionId: row.id, actionId: row.action as number, actionRef: row.actionRef, status, result: row.result, completedAt: new Date() });
      return true;
    } catch (e) {
      const maybe = (e as { maybeDelivered?: boolean }).maybeDelivered === true;
      if (maybe || attempt >= 5) {
        // Kept in the journal when certainly not sent: the next start tries again.
        log.error({ err: toError(e), maybeDelivered: maybe }, 'journaled ExecutionCompleted not confirmed');
        return false;
      }
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }
}
