/**
 * The execution flow of a running agent (spec 02 §4–§8, spec 03 §1, spec 04 §4.2): dispatches
 * in, status and results out. Decisions live in dispatch-rules.ts, request building in
 * prepare.ts, one run (prepare, log streams, engine) in execution-run.ts; this file orders the
 * durable steps:
 *
 *   dispatch → slot → read row → mark `running` (durable) → ACK → run → write final status
 *   → ExecutionStatusChanged → exactly one ExecutionCompleted → free the slot.
 *
 * Unlike upstream (which acks before anything is durable) the dispatch is acked only once the
 * row says `running`; a crash after that is settled at the next start (`recoverAbandoned`).
 */
import type { Config } from '../config/types';
import type { AgentMetrics } from '../health';
import type { Logger } from '../log';
import type { JsonValue, Queryable } from '../db/rows';
import type { ExecutionRow } from '../db/models/execution';
import { abandonExecution } from '../db/queries/abandon-execution';
import { completeExecution } from '../db/queries/complete-execution';
import { listRunningExecutionsForWorker } from '../db/queries/list-running-executions-for-worker';
import type { EnvMap } from '../execution/child-env';
import { buildFailureOutcome, runtimeFailureText, type RuntimeRegistry } from '../execution';
import type { ExecutionOutcome } from '../execution/types';
import type { OomWatch, ProcessSpawner } from '../execution/ports';
import type { Delivery, ConsumerDecision } from '../mq/consumer';
import { parseCancelRequest, parseEnvelope, parseExecutionDispatch, type CompletionStatus } from '../mq/messages';
import { toError } from '../errors';
import { isPermanentError } from '../mq/retriable';
import { sleep } from '../util/sleep';
import { Semaphore } from '../util/semaphore';
import type { PackReleaseGate } from '../packs';
import { childWith } from '../util/log-bindings';
import { wireStatuses } from './dispatch-rules';
import { TerminalWrites } from './terminal-writes';
import { claimDispatch, type ClaimDeps } from './dispatch-claim';
import { PendingCancels } from './pending-cancels';
import { retryThroughOutages, type RetryOutcome } from './retrying';
import { persistResultSecrets } from './result-secrets';
import type { PreloadedReads } from './prepare';
import { publishCompleted, publishStatusChanged, type ExecutionPublisher } from './execution-messages';
import { releaseLargeResultGarbage } from './result-memory';
import { prepareAndRun, type ExecutionRunDeps } from './execution-run';
import type { ExecutionOutput } from '../logs';

export interface WorkerServiceOptions {
  db: Queryable;
  publisher: ExecutionPublisher;
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  workerId: number;
  workerName: string;
  baseEnv: EnvMap;
  registry: RuntimeRegistry;
  advertisedVersions: Readonly<Record<string, readonly string[]>>;
  /** Shell found by detection, used when the catalog's `/bin/bash` is missing (prepare.ts). */
  detectedShell?: string | null;
  log: Logger;
  metrics?: AgentMetrics;
  /** SIGTERM → SIGKILL grace for timeouts/cancels (upstream 10 s). */
  killGraceMs?: number;
  /** How long to keep retrying a final DB write / completion publish before giving up. */
  settleRetryMs?: number;
  /** issue 15: API pack transport (src/packs); null/absent = volume transport. */
  packReleases?: PackReleaseGate | null;
  /** Log streams and file artifacts (spec 06); absent → no log artifacts. */
  output?: ExecutionOutput;
  /** Spawner for actions (agent.ts: with the raised OOM score, src/process/oom.ts). */
  spawner?: ProcessSpawner;
  /** The memory cgroup's OOM kill counter, to explain SIGKILLs (src/process/oom.ts). */
  oom?: OomWatch | null;
}

interface InFlight {
  id: number;
  abort: AbortController;
  /** Set when the agent itself stops the run (shutdown timeout): recorded as `abandoned`. */
  abandonReason: string | null;
  done: Promise<void>;
}

export class WorkerService {
  private readonly slots: Semaphore;
  private readonly inFlight = new Map<number, InFlight>();
  /** Cancels that arrived before their dispatch (spec 02 §8.1), with arrival time. */
  private readonly pendingCancels = new PendingCancels();
  private accepting = true;
  private readonly log: Logger;
  /** issue 18: terminal UPDATEs of executions finishing together go in one statement. */
  private readonly terminalWrites: TerminalWrites;

  private readonly claimDeps: ClaimDeps;
  private readonly runDeps: ExecutionRunDeps;

  constructor(private readonly opts: WorkerServiceOptions) {
    this.slots = new Semaphore(opts.config.worker.maxConcurrentTasks);
    this.log = childWith(opts.log, { component: 'executions', workerId: opts.workerId });
    this.terminalWrites = new TerminalWrites(opts.db);
    this.runDeps = {
      ...opts,
      verifiedReleases: new Set<string>(),
      retrying: (log, what, fn, permanent) => this.retrying(log, what, fn, permanent),
    };
    this.claimDeps = {
      db: opts.db,
      workerId: opts.workerId,
      log: this.log,
      metrics: opts.metrics,
      packReleases: opts.packReleases ?? null,
      isInFlight: (id) => this.inFlight.has(id),
      settleCancelled: (row) => this.settleWithoutRun(row, 'cancelled', { succeeded: false, cancelled: true, error: 'Execution cancelled by user' }),
    };
  }

  get runningCount(): number {
    return this.inFlight.size;
  }

  runningIds(): number[] {
    return [...this.inFlight.keys()];
  }

  /** Stop starting new executions; dispatches that arrive now are handed back to the queue. */
  stopAccepting(): void {
    this.accepting = false;
  }

  // ---------------------------------------------------------------- dispatch (spec 02 §4.1)

  async handleDispatch(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    if (!env.ok) return this.rejectMessage('executions', env.error, d);
    const payload = parseExecutionDispatch(env.envelope.payload);
    if (!payload.ok) return this.rejectMessage('executions', payload.error, d);
    const p = payload.value;
    if (!this.accepting) return 'requeue';

    await this.slots.acquire();
    let handedOff = false;
    try {
      if (!this.accepting) return 'requeue';
      const claim = await claimDispatch(this.claimDeps, p, d);
      if (claim === null) return 'ack';
      if (claim === 'requeue') return claim;
      // Durable now: the ack follows when this handler resolves; the run continues in the background.
      handedOff = true;
      this.startRun(claim.row, claim.previousStatus, { secretRows: claim.secretRows, enforcement: claim.enforcement });
      return 'ack';
    } finally {
      if (!handedOff) this.slots.release();
    }
  }

  private rejectMessage(queue: string, error: string, d: Delivery): ConsumerDecision {
    this.log.error(
      { queue, deliveryTag: d.deliveryTag, routingKey: d.routingKey, bytes: d.body.length, error },
      'malformed message rejected (dead-lettered, not retried): fix the producer; the agent keeps serving',
    );
    this.opts.metrics?.dispatchRejected.inc({ reason: 'malformed' });
    return 'reject';
  }

  private startRun(row: ExecutionRow, previousStatus: string, preloaded: PreloadedReads | null): void {
    const abort = new AbortController();
    const entry: InFlight = { id: row.id, abort, abandonReason: null, done: Promise.resolve() };
    this.inFlight.set(row.id, entry);
    this.opts.metrics?.inFlight.set(this.inFlight.size);
    if (this.pendingCancels.take(row.id)) abort.abort();
    entry.done = this.runToCompletion(row, previousStatus, entry, preloaded)
      .catch((e: unknown) => this.log.error({ executionId: row.id, err: toError(e) }, 'agent fault while running an execution'))
      .finally(() => {
        this.inFlight.delete(row.id);
        this.opts.metrics?.inFlight.set(this.inFlight.size);
        this.slots.release();
      });
  }

  private async runToCompletion(row: ExecutionRow, previousStatus: string, entry: InFlight, preloaded: PreloadedReads | null): Promise<void> {
    const started = Date.now();
    const log = childWith(this.log, { executionId: row.id, actionRef: row.actionRef });
    log.info('execution started');
    // issue 18: not awaited before the spawn; every later message of this execution waits for it.
    const runningPublished = this.publishStatus(row, previousStatus, 'running', log);

    let outcome: ExecutionOutcome;
    try {
      outcome = await prepareAndRun(this.runDeps, row, entry.abort, log, preloaded);
    } catch (e) {
      // Any unexpected fault still ends the execution: nothing is left `running`.
      const err = toError(e);
      log.error({ err }, 'execution failed inside the agent');
      outcome = buildFailureOutcome(runtimeFailureText(`Internal error: ${err.message}`), { phase: 'runtime', logFiles: null, outSchema: null, secretParameterPaths: [] });
    }

    releaseLargeResultGarbage(outcome.result);
    await runningPublished;
    if (entry.abandonReason !== null) {
      await this.settleAbandoned(row, entry.abandonReason, outcome, log);
      return;
    }
    await this.persistSecrets(row.id, outcome, log);
    let write = await this.retrying(log, 'write the final status', () =>
      this.terminalWrites.complete({ id: row.id, status: outcome.status, result: outcome.result as JsonValue }),
    );
    if (!write.ok && isPermanentError(write.error)) {
      // The result itself cannot be stored (e.g. too deeply nested for PostgreSQL): keep the
      // status truthful with a small result instead of leaving the row `running`.
      log.error({ err: write.error }, 'the execution result cannot be stored; recording a failure without it');
      outcome = buildFailureOutcome(runtimeFailureText(`Internal error: the execution result could not be stored: ${write.error.message}`), {
        phase: 'runtime',
        logFiles: null,
        outSchema: null,
        secretParameterPaths: [],
      });
      write = await this.retrying(log, 'write the final status', () =>
        this.terminalWrites.complete({ id: row.id, status: outcome.status, result: outcome.result as JsonValue }),
      );
    }
    const seconds = (Date.now() - started) / 1000;
    this.opts.metrics?.executions.inc({ status: outcome.status });
    this.opts.metrics?.executionDuration.observe({ status: outcome.status }, seconds);
    if (!write.ok) return; // gave up: settled as abandoned at the next start
    const written = write.value;
    if (written === null) {
      log.warn({ status: outcome.status }, 'execution was already finished by someone else (e.g. the executor timed it out); result not written, no completion sent');
      return;
    }
    log.info({ status: outcome.status, exitCode: outcome.exitCode, durationMs: outcome.durationMs }, 'execution finished');
    const wire = wireStatuses(outcome);
    releaseLargeResultGarbage(outcome.result);
    // The UPDATE does not return the (possibly large) result; the completion carries ours.
    await this.publishTerminal(written, wire, outcome.result as JsonValue, log);
    releaseLargeResultGarbage(outcome.result);
  }

  /**
   * ExecutionStatusChanged then ExecutionCompleted, pipelined (issue 18): the completion is
   * written once the status message is on the channel (same order at the broker), and both
   * confirms are awaited together instead of one after the other.
   */
  private async publishTerminal(written: ExecutionRow, wire: ReturnType<typeof wireStatuses>, result: JsonValue, log: Logger): Promise<void> {
    let sent = (): void => undefined;
    const statusSent = new Promise<void>((resolve) => (sent = resolve));
    const status = this.publishStatus(written, written.status, wire.newStatus, log, sent);
    await Promise.race([statusSent, status]);
    await this.publishCompletion({ ...written, result }, wire.completionStatus, log);
    await status;
  }

  /** spec 03 §4.5 / spec 04 §6.3: originals of redacted result values, encrypted (result-secrets.ts). */
  private persistSecrets(executionId: number, outcome: ExecutionOutcome, log: Logger): Promise<void> {
    return persistResultSecrets({ db: this.opts.db, encryptionKey: this.opts.config.security.encryptionKey, executionId, outcome, log, retrying: (what, fn) => this.retrying(log, what, fn) });
  }

  /** Row was `canceling` at dispatch: record `cancelled` without running (spec 02 §4.1 step 4). */
  private async settleWithoutRun(row: ExecutionRow, status: 'cancelled', result: Record<string, unknown>): Promise<void> {
    const log = childWith(this.log, { executionId: row.id, actionRef: row.actionRef });
    // Upstream only publishes here and leaves the row `canceling`; we also write it.
    const written = await completeExecution(this.opts.db, { id: row.id, status, result: result as JsonValue });
    log.info('execution was cancelled before it started');
    const after = written ?? row;
    await this.publishStatus(after, row.status, 'cancelled', log);
    await this.publishCompletion({ ...after, result: result as JsonValue }, 'Cancelled', log);
  }

  private async settleAbandoned(row: ExecutionRow, reason: string, outcome: ExecutionOutcome, log: Logger): Promise<void> {
    const result = { ...outcome.result, succeeded: false, error: reason };
    const write = await this.retrying(log, 'record the abandoned execution', () => abandonExecution(this.opts.db, row.id, result as JsonValue));
    this.opts.metrics?.executions.inc({ status: 'abandoned' });
    const written = write.ok ? write.value : null;
    if (!written) return;
    log.warn({ reason }, 'execution abandoned');
    await this.publishStatus(written, 'running', 'abandoned', log);
    await this.publishCompletion(written, 'Abandoned', log);
  }

  // ---------------------------------------------------------------- cancel (spec 02 §4.2, §8)

  async handleCancel(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    if (!env.ok) return this.rejectMessage('cancel', env.error, d);
    const p = parseCancelRequest(env.envelope.payload);
    if (!p.ok) return this.rejectMessage('cancel', p.error, d);
    const id = p.value.execution_id;
    const running = this.inFlight.get(id);
    if (running) {
      this.log.info({ executionId: id }, 'cancel requested; stopping the action');
      running.abort.abort();
      return 'ack';
    }
    this.pendingCancels.remember(id);
    this.log.info({ executionId: id }, 'cancel for an execution not running on this agent (unknown, finished or not yet dispatched); remembered for 10 minutes');
    return 'ack';
  }

  // ---------------------------------------------------------------- start-up recovery and shutdown

  /**
   * Executions this worker left `running` in a previous life have no process any more: settle
   * them as `abandoned` (the executor's own monitor would, minutes later) so none stays stuck.
   */
  async recoverAbandoned(): Promise<number> {
    const rows = await listRunningExecutionsForWorker(this.opts.db, this.opts.workerId);
    let n = 0;
    for (const row of rows) {
      if (this.inFlight.has(row.id)) continue;
      const reason = `Execution abandoned: attune-agent (worker '${this.opts.workerName}', id ${this.opts.workerId}) restarted while it was running`;
      const written = await abandonExecution(this.opts.db, row.id, { succeeded: false, error: reason });
      if (!written) continue;
      n++;
      const log = childWith(this.log, { executionId: row.id, actionRef: row.actionRef });
      log.warn('execution left running by a previous agent process marked abandoned');
      await this.opts.output?.sealLeftovers(row.id, log);
      await this.publishStatus(written, 'running', 'abandoned', log);
      await this.publishCompletion(written, 'Abandoned', log);
    }
    return n;
  }

  /** Wait for in-flight executions; true when all finished within `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await Promise.race([Promise.allSettled([...this.inFlight.values()].map((e) => e.done)), sleep(left)]);
    }
    return true;
  }

  /** Stop what is still running (shutdown budget exhausted) and record it as abandoned. */
  async abandonInFlight(reason: string, timeoutMs: number): Promise<void> {
    for (const e of this.inFlight.values()) {
      e.abandonReason = reason;
      e.abort.abort();
    }
    await this.drain(timeoutMs);
  }

  // ---------------------------------------------------------------- messages (execution-messages.ts)

  private publishStatus(row: ExecutionRow, previousStatus: string, newStatus: string, log: Logger, onSent?: () => void): Promise<void> {
    return publishStatusChanged(this.opts.publisher, row, previousStatus, newStatus, log, onSent);
  }

  private publishCompletion(row: ExecutionRow, status: CompletionStatus, log: Logger): Promise<void> {
    return publishCompleted(this.opts.publisher, row, status, log, this.opts.settleRetryMs ?? 10 * 60_000);
  }

  private retrying<T>(log: Logger, what: string, fn: () => Promise<T>, permanent?: (e: unknown) => boolean): Promise<RetryOutcome<T>> {
    return retryThroughOutages({ log, what, fn, permanent, budgetMs: this.opts.settleRetryMs ?? 10 * 60_000 });
  }
}
