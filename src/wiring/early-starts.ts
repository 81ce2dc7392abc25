/**
 * Start-up work that does not wait for the steps before it (issue 18, start-up): the runtime
 * probes and the RabbitMQ connection begin with the agent, and run while PostgreSQL is
 * connected and its schema and catalog are checked. agent.ts awaits each where its result is
 * first needed; until then neither can end in an unhandled rejection.
 */
import type { Logger } from '../log';
import { toError } from '../errors';
import { bootstrapDetection, describeDetectedRuntime, type DetectedRuntime } from '../detect';
import { createMqConnection, type MqConnection } from '../mq/connection';
import { declareCommonInfrastructure } from '../mq/topology';
import { waitAtMost } from '../util/sleep';

/**
 * Start runtime detection (spec 01 §3.4) and return its result: the detected runtimes, or null
 * for upstream's plain Worker startup. When it ends it logs its warnings and the runtimes and
 * sets `ATTUNE_WORKER_RUNTIMES` as upstream does; never rejects (a probe that fails reports no
 * version).
 */
export function startRuntimeDetection(env: NodeJS.ProcessEnv, childEnv: Record<string, string>, log: Logger): Promise<DetectedRuntime[] | null> {
  return bootstrapDetection({ env, childEnv }).then(
    (boot) => {
      for (const w of boot.warnings) log.warn(w);
      if (boot.setWorkerRuntimes !== null) env.ATTUNE_WORKER_RUNTIMES = boot.setWorkerRuntimes;
      log.info({ runtimes: (boot.detected ?? []).map(describeDetectedRuntime), override: boot.overrideSet }, 'runtime detection finished');
      return boot.detected;
    },
    (e: unknown) => {
      log.error({ err: toError(e) }, 'runtime detection failed; continuing as if nothing was detected');
      return null;
    },
  );
}

export interface EarlyMessageQueueOptions {
  url: string;
  log: Logger;
  startupTimeoutMs: number;
  connectionName: string;
  /** The agent's stop signal: SIGTERM during start-up also ends the connect's retries. */
  stop: AbortSignal;
}

export interface EarlyMessageQueue {
  /** The connection, with upstream's common infrastructure declared (spec 02 §2.1). */
  ready: Promise<MqConnection>;
  /**
   * For the releases of a start-up that failed or stopped before or after `ready` was awaited:
   * ends the connect's retries, then closes whatever connection it opened (close is idempotent).
   */
  release(): Promise<void>;
}

/** How long release() waits for an attempt in flight to end. */
export const RELEASE_WAIT_MS = 2_000;

/** Connect to RabbitMQ (retrying until the start-up timeout) and declare the common infrastructure. */
export function startMessageQueue(opts: EarlyMessageQueueOptions): EarlyMessageQueue {
  const abandon = new AbortController();
  const ready = createMqConnection({
    url: opts.url,
    log: opts.log.child({ component: 'mq' }),
    startupTimeoutMs: opts.startupTimeoutMs,
    connectionName: opts.connectionName,
    signal: AbortSignal.any([opts.stop, abandon.signal]),
  }).then(async (mq) => {
    try {
      await declareCommonInfrastructure(mq, opts.log);
      return mq;
    } catch (e) {
      await mq.close().catch(() => undefined);
      throw e;
    }
  });
  // Awaited by the start-up later; a failure before then is reported there, not as unhandled.
  ready.catch(() => undefined);
  return {
    ready,
    async release() {
      abandon.abort();
      // An attempt in flight against a host that never answers ends only at its socket timeout
      // (up to 10 s; amqplib's connect takes no signal). Past RELEASE_WAIT_MS the connect is left
      // to finish alone: a connection that opens after the abort is closed by the connect itself.
      const closing = ready.then(
        (mq) => mq.close(),
        () => undefined,
      );
      await waitAtMost(closing, RELEASE_WAIT_MS);
    },
  };
}
