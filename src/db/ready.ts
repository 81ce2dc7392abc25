/**
 * Waiting for the Attune schema (spec 04 §1.4, spec 01 §7.1): upstream's Kubernetes init
 * container polls `to_regclass('<schema>.identity')` every 2 s; the agent itself never
 * checked. `waitForSchema` lets the agent (and `attune-agent wait schema`) do the same
 * without psql. Note the probe only proves migration 3 ran, as upstream's (spec 04 §8.4).
 */
import pg from 'pg';
import type { DatabaseConfig } from '../config/types';
import { DbError, toError } from '../errors';
import { describeTarget } from '../util/redact';
import { sleep } from '../util/sleep';
import { relationExists } from './queries/relation-exists';
import type { Queryable } from './rows';

/** The table whose presence means "schema is ready" (upstream's probe). */
export const READINESS_TABLE = 'identity';

export interface WaitForSchemaOptions {
  /** Schema to look in (`database.schema`, default `attune`). */
  schema: string;
  /** Give up after this long; default 300 000 ms. */
  timeoutMs?: number;
  /** Poll period; default 2000 ms (upstream's init container). */
  intervalMs?: number;
  /** How often `onProgress` is called while waiting; default 5000 ms. */
  progressEveryMs?: number;
  /** Human-readable progress line naming what is awaited (e.g. log it at info). */
  onProgress?: (message: string, info: { elapsedMs: number; lastError: Error | null }) => void;
  signal?: AbortSignal;
}

/**
 * Resolve once `<schema>.identity` exists.
 *
 * `target` is either something to query (a pool) or a `DatabaseConfig`, in which case a
 * one-connection pool is opened for the wait and closed afterwards. Connection failures
 * while waiting count as "not ready yet". Throws `DbError`:
 * `DB_SCHEMA_MISSING` when the table did not appear in time, `DB_UNREACHABLE` when the last
 * poll could not even connect.
 */
export async function waitForSchema(target: Queryable | DatabaseConfig, opts: WaitForSchemaOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const intervalMs = Math.max(10, opts.intervalMs ?? 2000);
  const progressEveryMs = opts.progressEveryMs ?? 5000;
  const isConfig = !isQueryable(target);
  const where = isConfig ? describeTarget(target.url) : 'the configured database';
  const ownPool = isConfig ? new pg.Pool({
        connectionString: target.url,
        max: 1,
        idleTimeoutMillis: 1000,
        // An unreachable host must not hang a poll past the caller's timeout.
        connectionTimeoutMillis: Math.min(target.connectTimeoutSec * 1000, Math.max(1000, timeoutMs)),
      }) : null;
  // A pool's idle-client errors must not crash the process while PostgreSQL is still starting.
  ownPool?.on('error', () => {});
  const db: Queryable = ownPool ?? (target as Queryable);
  const what = `table ${quoteForMessage(opts.schema)}.${READINESS_TABLE}`;

  const started = Date.now();
  // The first unsuccessful poll reports at once; later ones every `progressEveryMs`.
  let lastProgress = started - progressEveryMs;
  let lastError: Error | null = null;
  try {
    for (;;) {
      try {
        if (await relationExists(db, { schema: opts.schema, name: READINESS_TABLE })) return;
        lastError = null;
      } catch (e) {
        lastError = toError(e);
      }
      const elapsedMs = Date.now() - started;
      if (elapsedMs >= timeoutMs || opts.signal?.aborted) {
        const seconds = Math.round(elapsedMs / 1000);
        if (lastError !== null) {
          throw new DbError(`Cannot check for the Attune schema in ${where} after ${seconds}s: ${lastError.message}`, {
            code: 'DB_UNREACHABLE',
            cause: lastError,
          });
        }
        throw new DbError(
          `Attune schema not found in ${where}: ${what} does not exist after ${seconds}s. ` +
            "Run Attune's migrations (attune-api --migrate or docker/run-migrations.sh); " +
            'for development: node scripts/apply-schema.mjs <database-url>',
          { code: 'DB_SCHEMA_MISSING' },
        );
      }
      if (opts.onProgress && Date.now() - lastProgress >= progressEveryMs) {
        lastProgress = Date.now();
        const reason = lastError ? `cannot connect yet (${lastError.message})` : `${what} does not exist yet`;
        opts.onProgress(
          `waiting for the Attune schema in ${where}: ${reason} (${Math.round(elapsedMs / 1000)}s of ${Math.round(timeoutMs / 1000)}s)`,
          { elapsedMs, lastError },
        );
      }
      await sleep(Math.min(intervalMs, Math.max(1, timeoutMs - elapsedMs)), opts.signal);
    }
  } finally {
    if (ownPool) await ownPool.end().catch(() => {});
  }
}

function isQueryable(x: Queryable | DatabaseConfig): x is Queryable {
  return typeof (x as Queryable).query === 'function';
}

function quoteForMessage(identifier: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(identifier) ? identifier : `"${identifier.replace(/"/g, '""')}"`;
}
