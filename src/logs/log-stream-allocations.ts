/**
 * Group commit for the log stream rows (issue 18, util/group-commit.ts). Executions of one
 * action number their log versions max+1 from the same artifact, so this agent's concurrent
 * executions of one action must not allocate side by side (they would collide on the unique
 * version and retry). Before, they went one after another — at c=16 that queue was 55 ms (p50)
 * of every execution's time between `execution started` and the spawn, one round trip per
 * execution. Now an allocation starts at once when none of its action is in flight; those
 * that arrive meanwhile wait for it and then go together in one statement
 * (createExecutionsLogStreams). A failed batch is retried one by one.
 */
import type { Queryable } from '../db/rows';
import {
  createExecutionLogStreams,
  createExecutionsLogStreams,
  type CreatedLogStream,
  type LogStreamAllocationCommon,
  type LogStreamSpec,
} from '../db/queries/create-execution-log-streams';
import { GroupCommit } from '../util/group-commit';

interface Allocation {
  common: LogStreamAllocationCommon;
  executionId: number;
  streams: readonly LogStreamSpec[];
}

/** Executions per statement at most (2 streams each: 128 rows). */
const MAX_BATCH = 64;

const laneOf = (c: LogStreamAllocationCommon) => JSON.stringify([c.actionRef, c.retentionPolicy, c.retentionLimit, c.backend, c.maxUnflushedBytes, c.maxUnflushedMs]);

export class LogStreamAllocations {
  private readonly group: GroupCommit<Allocation, CreatedLogStream[]>;

  constructor(db: Queryable) {
    this.group = new GroupCommit({
      maxBatch: MAX_BATCH,
      // One lane per action and settings: a batch shares them (one statement's parameters).
      lane: (a) => laneOf(a.common),
      identity: (a) => a.executionId,
      batch: async (all) => {
        const rows = await createExecutionsLogStreams(db, (all[0] as Allocation).common, all);
        return all.map((a) => rows.get(a.executionId) ?? []);
      },
      single: (a) => createExecutionLogStreams(db, { ...a.common, executionId: a.executionId, streams: a.streams }),
    });
  }

  allocate(common: LogStreamAllocationCommon, executionId: number, streams: readonly LogStreamSpec[]): Promise<CreatedLogStream[]> {
    return this.group.run({ common, executionId, streams });
  }
}
