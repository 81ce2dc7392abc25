/**
 * "No lost completion" (issue 17, spec 02 §5.4 invariants 1–2): the completion journal wired
 * around the execution service's two edges, so service.ts keeps its order of durable steps:
 *
 *   journaledDb:        a terminal UPDATE (complete/abandon, one or a batch of them) is
 *                       journaled before it is sent;
 *                       when it updates nothing, the row is re-read: if it holds exactly our
 *                       status and result, an earlier attempt of this same write committed and
 *                       only its reply was lost (PostgreSQL restart), so the row is returned and
 *                       the completion still goes out; otherwise someone else finished it.
 *   journaledPublisher: each message's envelope id is journaled before it goes out; a confirmed
 *                       ExecutionCompleted clears the entry; an unconfirmed one (maybe
 *                       delivered) is published again with the SAME envelope.
 *   replayCompletionJournal (start-up): an entry whose row holds our terminal write gets its
 *                       ExecutionStatusChanged + ExecutionCompleted now; any other entry is dropped
 *                       (a row still `running` is settled by recoverAbandoned).
 *
 * Guarantee: every terminal status this agent wrote gets exactly one ExecutionCompleted message
 * (one message_id), across SIGKILL and restarts with the journal volume kept. Its delivery is
 * at-least-once, as for any AMQP message: when the agent cannot know whether the broker took it
 * (killed, or the connection lost, between publish and confirm), the same envelope is published
 * again — to the executor exactly a broker redelivery, which it must tolerate anyway (its own
 * crash before the ack); the newest executor releases the action's slot by execution id, so a
 * redelivery releases nothing twice. Never a second message_id.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { jsonParamValue, type Queryable, type QueryResultLike } from '../db/rows';
import { mapExecutionRow, type ExecutionRow } from '../db/models/execution';
import { ABANDON_EXECUTION_SQL } from '../db/queries/abandon-execution';
import { COMPLETE_EXECUTION_SQL } from '../db/queries/complete-execution';
import { COMPLETE_EXECUTIONS_SQL } from '../db/queries/complete-executions';
import { GET_EXECUTION_SQL, getExecution } from '../db/queries/get-execution';
import type { CompletionStatus } from '../mq/messages';
import type { ExecutionPublisher } from './execution-messages';
import { toError } from '../errors';
import { sleep } from '../util/sleep';
import { resultHash, type CompletionJournal, type JournalEntry } from './completion-journal';


const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

interface TerminalWrite {
  id: number;
  status: string;
  result: unknown;
}

/**
 * The terminal writes a statement makes (one, or several for the batched UPDATE of
 * terminal-writes.ts), or null for any other statement.
 */
function terminalWritesOf(text: string, values: readonly unknown[] | undefined): TerminalWrite[] | null {
  if (!values) return null;
  // The values behind the JSON texts, without parsing them again when the query attached them.
  if (text === COMPLETE_EXECUTION_SQL) return [{ id: Number(values[0]), status: String(values[1]), result: jsonParamValue(values, 2) }];
  if (text === ABANDON_EXECUTION_SQL) return [{ id: Number(values[0]), status: 'abandoned', result: jsonParamValue(values, 1) }];
  if (text === COMPLETE_EXECUTIONS_SQL) {
    // $1 ids, $2 statuses, $3 one JSON array of the results (complete-executions.ts).
    const ids = values[0] as readonly unknown[];
    const statuses = values[1] as readonly unknown[];
    const results = jsonParamValue(values, 2) as readonly unknown[];
    return ids.map((id, i) => ({ id: Number(id), status: String(statuses[i]), result: results[i] ?? null }));
  }
  return null;
}

function holdsOurWrite(row: ExecutionRow, entry: Pick<JournalEntry, 'status' | 'resultHash'>): boolean {
  return row.status === entry.status && resultHash(row.result) === entry.resultHash;
}

/** `db` with terminal writes journaled (see the file comment). */
export function journaledDb(db: Queryable, journal: CompletionJournal, log: Logger): Queryable {
  let warned = false;
  const begin = async (w: TerminalWrite): Promise<JournalEntry | null> => {
    try {
      return await journal.begin(w.id, w.status, w.result);
    } catch (e) {
      // The journal protects against a crash; it must never fail an execution by itself.
      if (!warned) log.warn({ err: toError(e), dir: journal.dir }, 'cannot write the completion journal; a completion may be lost if the agent is killed now');
      warned = true;
      return null;
    }
  };
  return {
    async query(text: string, values?: unknown[]): Promise<QueryResultLike> {
      const writes = terminalWritesOf(text, values);
      if (!writes) return db.query(text, values);
      const entries = await Promise.all(writes.map(begin));
      const res = await db.query(text, values);
      const written = new Set(res.rows.map((r) => Number((r as { id: unknown }).id)));
      const recovered: Record<string, unknown>[] = [];
      for (const [i, w] of writes.entries()) {
        const entry = entries[i];
        if (written.has(w.id) || !entry) continue;
        const now = await db.query(GET_EXECUTION_SQL, [w.id]);
        const raw = now.rows[0];
        if (raw && holdsOurWrite(mapExecutionRow(raw), entry)) {
          log.info({ executionId: w.id, status: w.status }, 'terminal status was already written by an earlier attempt (reply lost); sending its completion');
          recovered.push(raw);
        } else {
          await journal.end(w.id).catch(() => undefined);
        }
      }
      return recovered.length === 0 ? res : { ...res, rows: [...res.rows, ...recovered] };
    },
  };
}

/**
 * `publisher` with each message of an open entry journaled (its envelope id) before it goes out,
 * and the entry cleared once the ExecutionCompleted is confirmed. A completion whose confirm was
 * lost (maybe delivered) is published again with the same envelope until confirmed: to the
 * executor that is a broker redelivery, never a second completion.
 */
export function journaledPublisher(publisher: ExecutionPublisher, journal: CompletionJournal, log: Logger, opts: { maybeRetryMs?: number } = {}): ExecutionPublisher {
  const envelopeFor = async (executionId: number, kind: 'status' | 'completion', fields: Record<string, string>, given?: { messageId: string; at: Date }) => {
    // A retry of a message that may have gone out keeps its envelope (harmless if it had not).
    const recorded = journal.recordedMessage(executionId, kind);
    const envelope = given ?? (recorded ? { messageId: recorded.messageId, at: new Date(recorded.at) } : { messageId: randomUUID(), at: new Date() });
    await journal.recordMessage(executionId, kind, { messageId: envelope.messageId, at: envelope.at.toISOString(), fields }).catch(() => undefined);
    return envelope;
  };
  return {
    async publishExecutionStatusChanged(input, o) {
      const envelope = await envelopeFor(input.executionId, 'status', { previousStatus: input.previousStatus, newStatus: input.newStatus }, o?.envelope);
      return publisher.publishExecutionStatusChanged({ ...input, changedAt: envelope.at }, { ...o, envelope });
    },
    async publishExecutionCompleted(input, o) {
      const envelope = await envelopeFor(input.executionId, 'completion', { status: input.status }, o?.envelope);
      const deadline = Date.now() + (opts.maybeRetryMs ?? 60_000);
      for (let attempt = 0; ; attempt++) {
        try {
          const env = await publisher.publishExecutionCompleted({ ...input, completedAt: envelope.at }, { ...o, envelope });
          await journal.end(input.executionId).catch(() => undefined);
          return env;
        } catch (e) {
          // Not sent at all: the caller's own retry handles it (with this envelope). Maybe sent:
          // the same envelope again, here.
          if ((e as { maybeDelivered?: boolean }).maybeDelivered !== true || Date.now() > deadline) throw e;
          log.warn({ executionId: input.executionId, messageId: envelope.messageId, attempt, err: toError(e).message }, 'ExecutionCompleted not confirmed; publishing the same envelope again');
          await sleep(Math.min(5000, 250 * 2 ** attempt));
        }
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
  publisher: ExecutionPublisher;
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
    journal.adopt(entry);
    // Messages the killed process had already handed out go again with the same envelope.
    const sm = entry.statusMessage;
    try {
      await opts.publisher.publishExecutionStatusChanged(
        { executionId: row.id, actionRef: row.actionRef, previousStatus: sm?.fields.previousStatus ?? row.status, newStatus: sm?.fields.newStatus ?? wire.newStatus, changedAt: new Date() },
        { envelope: sm ? { messageId: sm.messageId, at: new Date(sm.at) } : undefined },
      );
    } catch (e) {
      elog.warn({ err: toError(e) }, 'could not publish ExecutionStatusChanged for a journaled completion');
    }
    const cm = entry.completionMessage;
    const status = (cm?.fields.status as CompletionStatus | undefined) ?? wire.completionStatus;
    if (await publishWithRetry(opts.publisher, row, status, cm ? { messageId: cm.messageId, at: new Date(cm.at) } : undefined, elog)) {
      sent++;
      elog.warn(
        { status: row.status, sameEnvelope: cm !== undefined },
        cm
          ? 'ExecutionCompleted published again after restart (same message id: its confirm was not received before the previous agent process was stopped)'
          : 'ExecutionCompleted sent after restart: the previous agent process was stopped between the final status and its completion',
      );
    }
  }
  return sent;
}

async function publishWithRetry(
  publisher: ExecutionPublisher,
  row: ExecutionRow,
  status: CompletionStatus,
  envelope: { messageId: string; at: Date } | undefined,
  log: Logger,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await publisher.publishExecutionCompleted(
        { executionId: row.id, actionId: row.action as number, actionRef: row.actionRef, status, result: row.result, completedAt: envelope?.at ?? new Date() },
        { envelope },
      );
      return true;
    } catch (e) {
      if (attempt >= 5) {
        // Kept in the journal: the next start tries again (with the same envelope).
        log.error({ err: toError(e) }, 'journaled ExecutionCompleted not confirmed; kept for the next start');
        return false;
      }
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }
}
