/**
 * The messages of one execution (spec 02 §5): ExecutionStatusChanged, informational for the
 * executor (a failed publish is a warning; the database is the truth), and exactly one
 * ExecutionCompleted, retried only while the broker certainly did not get it.
 */
import type { ExecutionRow } from '../db/models/execution';
import type { Logger } from '../log';
import type { CompletionStatus } from '../mq/messages';
import type { Publisher } from '../mq/publisher';
import { toError } from '../errors';
import { sleep } from '../util/sleep';

export type ExecutionPublisher = Pick<Publisher, 'publishExecutionStatusChanged' | 'publishExecutionCompleted'>;

export async function publishStatusChanged(
  publisher: ExecutionPublisher,
  row: ExecutionRow,
  previousStatus: string,
  newStatus: string,
  log: Logger,
  onSent?: () => void,
): Promise<void> {
  try {
    await publisher.publishExecutionStatusChanged(
      {
        executionId: row.id,
        actionRef: row.actionRef,
        previousStatus,
        newStatus,
        changedAt: new Date(),
      },
      onSent ? { onSent } : undefined,
    );
  } catch (e) {
    // Status messages are informational for the executor (spec 02 §5.4); the DB is the truth.
    log.warn({ err: toError(e), newStatus }, 'could not publish ExecutionStatusChanged');
  }
}

/** Exactly one ExecutionCompleted: retried (for at most `retryMs`) only when the broker certainly did not get it. */
export async function publishCompleted(publisher: ExecutionPublisher, row: ExecutionRow, status: CompletionStatus, log: Logger, retryMs: number): Promise<void> {
  if (row.action === null) {
    // spec 02 §5.2: action_id is not nullable; upstream sends no completion then.
    log.warn('execution has no action id; no ExecutionCompleted sent (as upstream)');
    return;
  }
  const deadline = Date.now() + retryMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await publisher.publishExecutionCompleted({
        executionId: row.id,
        actionId: row.action,
        actionRef: row.actionRef,
        status,
        result: row.result,
        completedAt: new Date(),
      });
      return;
    } catch (e) {
      const maybeDelivered = (e as { maybeDelivered?: boolean }).maybeDelivered === true;
      if (maybeDelivered || Date.now() > deadline) {
        log.error({ err: toError(e), maybeDelivered }, 'ExecutionCompleted may not have reached the broker; not re-sending (a duplicate would double-release the action slot)');
        return;
      }
      log.warn({ err: toError(e), attempt }, 'ExecutionCompleted not sent yet; retrying');
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }
}
