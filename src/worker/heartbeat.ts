/**
 * Heartbeat loop (spec 01 §6): every `heartbeat_interval` seconds, first tick immediately,
 * `UPDATE worker SET last_heartbeat, status='active', updated`. Errors are logged and never
 * fatal. Differences from upstream, both deliberate:
 *  - after a failure the next attempt comes sooner (min(retryAfterFailureMs, interval)), so a
 *    PostgreSQL restart costs seconds of staleness, not a whole interval;
 *  - `stop()` waits for an in-flight tick, so once it resolves no heartbeat can flip a
 *    deregistered row back to `active` (upstream's flag is only checked at the next tick).
 */
import { toError } from '../errors';
import type { Logger } from '../log';
import { heartbeatWorker } from '../db/queries/heartbeat-worker';
import type { Queryable } from '../db/rows';
import { childWith } from '../util/log-bindings';

export interface StartHeartbeatOptions {
  db: Queryable;
  workerId: number;
  intervalSec: number;
  log: Logger;
  /** Delay before retrying after a failed tick; default 5000 ms (capped at the interval). */
  retryAfterFailureMs?: number;
  now?: () => Date;
}

export interface Heartbeat {
  /** Stop ticking; resolves after any in-flight tick finished. Idempotent (same promise). */
  stop(): Promise<void>;
  /** Time of the last successful heartbeat write, or null before the first one. */
  readonly lastBeatAt: Date | null;
  /** Consecutive failed ticks (0 when healthy). */
  readonly consecutiveFailures: number;
}

export function startHeartbeat(opts: StartHeartbeatOptions): Heartbeat {
  const { db, workerId } = opts;
  const log = childWith(opts.log, { workerId });
  const intervalMs = Math.max(1, opts.intervalSec * 1000);
  const retryMs = Math.min(opts.retryAfterFailureMs ?? 5000, intervalMs);
  const now = opts.now ?? (() => new Date());

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | null = null;
  let stopPromise: Promise<void> | null = null;
  let lastBeatAt: Date | null = null;
  let failures = 0;

  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      inFlight = tick().finally(() => {
        inFlight = null;
      });
    }, ms);
    // The heartbeat alone must not keep the process alive.
    timer.unref();
  };

  const tick = async (): Promise<void> => {
    if (stopped) return;
    const at = now();
    try {
      const found = await heartbeatWorker(db, workerId, at);
      if (!found) {
        failures++;
        log.warn('heartbeat found no worker row (deleted by an operator?)');
        schedule(retryMs);
        return;
      }
      lastBeatAt = at;
      if (failures > 0) log.info({ failedTicks: failures }, 'heartbeat recovered');
      failures = 0;
      log.trace('heartbeat');
      schedule(intervalMs);
    } catch (e) {
      failures++;
      log.warn({ err: toError(e), consecutiveFailures: failures, retryInMs: retryMs }, 'heartbeat failed; retrying');
      schedule(retryMs);
    }
  };

  schedule(0);

  return {
    stop(): Promise<void> {
      if (stopPromise) return stopPromise;
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      stopPromise = (inFlight ?? Promise.resolve()).then(() => undefined);
      return stopPromise;
    },
    get lastBeatAt() {
      return lastBeatAt;
    },
    get consecutiveFailures() {
      return failures;
    },
  };
}
