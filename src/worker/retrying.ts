/** Retrying a step of an execution through PostgreSQL outages (worker/service.ts). */
import type { Logger } from '../log';
import { toError } from '../errors';
import { isPermanentError } from '../mq/retriable';
import { sleep } from '../util/sleep';

export type RetryOutcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * Returns `{ ok: true, value }`, or `{ ok: false, error }` at once for an error that would fail
 * again (isPermanentError, or `permanent(e)`), or after `budgetMs` of transient failures.
 */
export async function retryThroughOutages<T>(opts: {
  log: Logger;
  what: string;
  fn: () => Promise<T>;
  permanent?: (e: unknown) => boolean;
  budgetMs: number;
}): Promise<RetryOutcome<T>> {
  const { log, what, fn } = opts;
  const permanent = opts.permanent ?? (() => false);
  const deadline = Date.now() + opts.budgetMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      const err = toError(e);
      if (permanent(e) || isPermanentError(e)) return { ok: false, error: err };
      if (Date.now() > deadline) {
        log.error({ err }, `gave up trying to ${what}; the execution will be settled at the next start`);
        return { ok: false, error: err };
      }
      log.warn({ err, attempt }, `could not ${what}; retrying`);
      await sleep(Math.min(5000, 200 * 2 ** attempt));
    }
  }
}
