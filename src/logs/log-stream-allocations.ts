/**
 * Group commit for the log stream rows (issue 18). Executions of one action number their log
 * versions max+1 from the same artifact, so this agent's concurrent executions of one action
 * must not allocate side by side (they would collide on the unique version and retry). Before,
 * they went one after another — at c=16 that queue was 55 ms (p50) of every execution's time
 * between `execution started` and the spawn, and capped throughput at one round trip per
 * execution. Now an allocation starts at once when none of its action is in flight; those that
 * arrive meanwhile wait for it and then go together in one statement
 * (createExecutionsLogStreams). A failed batch is retried one by one, so an error reaches only
 * the execution it belongs to.
 */
import type { Queryable } from '../db/rows';
import {
  createExecutionLogStreams,
  createExecutionsLogStreams,
  type CreatedLogStream,
  type LogStreamAllocationCommon,
  type LogStreamSpec,
} from '../db/queries/create-execution-log-streams';

interface Waiting {
  executionId: number;
  streams: readonly LogStreamSpec[];
  resolve: (rows: CreatedLogStream[]) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  common: LogStreamAllocationCommon;
  queue: Waiting[];
}

/** Executions per statement at most (2 streams each: 128 rows). */
const MAX_BATCH = 64;

export class LogStreamAllocations {
  /** One lane per action and settings while it has work; deleted when it drains. */
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly db: Queryable) {}

  allocate(common: LogStreamAllocationCommon, executionId: number, streams: readonly LogStreamSpec[]): Promise<CreatedLogStream[]> {
    const key = JSON.stringify([common.actionRef, common.retentionPolicy, common.retentionLimit, common.backend, common.maxUnflushedBytes, common.maxUnflushedMs]);
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { executionId, streams, resolve, reject };
      const lane = this.lanes.get(key);
      if (lane) {
        lane.queue.push(waiting);
        return;
      }
      const fresh: Lane = { common, queue: [waiting] };
      this.lanes.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) await this.write(lane.common, lane.queue.splice(0, MAX_BATCH));
    } finally {
      this.lanes.delete(key);
    }
  }

  private async write(common: LogStreamAllocationCommon, batch: Waiting[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const rows = await createExecutionsLogStreams(this.db, common, batch);
        for (const w of batch) w.resolve(rows.get(w.executionId) ?? []);
        return;
      } catch {
        // Fall through: one statement each, each caller gets its own outcome.
      }
    }
    for (const w of batch) {
      try {
        w.resolve(await createExecutionLogStreams(this.db, { ...common, executionId: w.executionId, streams: w.streams }));
      } catch (e) {
        w.reject(e);
      }
    }
  }
}
