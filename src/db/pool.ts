/**
 * The PostgreSQL pool (adapter; the only place besides `tx.ts`/`ready.ts` that imports `pg`).
 *
 * spec 04 §1.1: every pooled connection sets `search_path` to `<schema>, public` and
 * `application_name` to `attune:<schema>` (session scope), so queries never schema-qualify.
 * spec 04 §1.4 / 01 §7.1: after connecting, `SELECT 1` then the platform-catalog epoch check.
 * Upstream does not retry the first connect; `connectWithRetry` does (deliberate improvement).
 */
import pg from 'pg';
import type { DatabaseConfig } from '../config/types';
import { DbError, toError } from '../errors';
import type { Logger } from '../log';
import { backoffDelayMs } from '../util/backoff';
import { describeTarget } from '../util/redact';
import { sleep } from '../util/sleep';
import { getPlatformCatalogState } from './queries/get-platform-catalog-state';
import { relationExists } from './queries/relation-exists';
import type { Queryable } from './rows';

export type DbPool = pg.Pool;

/** Binary constants of upstream `platform_catalog.rs` (spec 04 §1.4). */
export const COMPATIBILITY_EPOCH = 1;
export const CATALOG_REVISION = 1;

export const SESSION_SETUP_SQL =
  "SELECT set_config('search_path', $1::text, false), set_config('application_name', $2::text, false)";

/**
 * issue 18: the session's TOAST compression becomes lz4 where the server has it (PostgreSQL ≥ 14
 * built with lz4, which lists it in `enumvals`; elsewhere the sub-select is empty and nothing
 * changes). It only chooses how this session's large values are stored — a 10 MiB
 * `execution.result` compressed with pglz cost ~115 ms of the terminal UPDATE, with lz4 ~9 ms —
 * and every reader decompresses either transparently; the schema is untouched.
 */
export const SESSION_SETUP_LZ4_SQL = `${SESSION_SETUP_SQL}, (SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`;

export interface PoolOptions {
  /** Store this session's large values with lz4 when the server supports it (default true). */
  lz4Toast?: boolean;
}

/** Create the pool; never connects by itself (the first query does). */
export function createPool(cfg: DatabaseConfig, log: Logger, options: PoolOptions = {}): DbPool {
  const setupSql = options.lz4Toast === false ? SESSION_SETUP_SQL : SESSION_SETUP_LZ4_SQL;
  const target = describeTarget(cfg.url);
  const sessionParams = [`${cfg.schema}, public`, `attune:${cfg.schema}`];
  // pg-pool (≥ 3.11) awaits `onConnect` before handing a new client out and discards the
  // client if it fails, so no query can run without the search_path. (@types/pg lacks it.)
  const poolConfig: pg.PoolConfig & { onConnect?: (client: pg.PoolClient) => Promise<unknown> } = {
    connectionString: cfg.url,
    max: cfg.maxConnections,
    min: cfg.minConnections,
    idleTimeoutMillis: cfg.idleTimeoutSec * 1000,
    // spec 01 §2.2: upstream uses `database.connect_timeout` as the pool *acquire* timeout.
    connectionTimeoutMillis: cfg.connectTimeoutSec * 1000,
    onConnect: (client) => client.query(setupSql, sessionParams),
  };
  const pool = new pg.Pool(poolConfig);
  // An idle client whose server went away (restart, idle kill) errors here; pg discards it and
  // the next query opens a new connection. Logging is all that is needed — never crash.
  pool.on('error', (err) => {
    log.warn({ err, target }, 'idle PostgreSQL connection failed; it was discarded');
  });
  return pool;
}

export interface ConnectWithRetryOptions {
  /** Total time budget for reaching PostgreSQL; 0 = one attempt (upstream behaviour). */
  timeoutMs: number;
  log: Logger;
  signal?: AbortSignal;
  /** Use this pool instead of creating one (it is then not ended on failure). */
  pool?: DbPool;
  /** For the pool created here (createPool). */
  poolOptions?: PoolOptions;
  /** First retry delay; doubles up to `maxDelayMs` (jittered). */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Create a pool and prove it works: `SELECT 1` with exponential backoff until `timeoutMs`
 * has passed (each failure logged with host:port/db, never the password), then the
 * platform-catalog epoch check. Throws `DbError` `DB_UNREACHABLE` after the last attempt and
 * `DB_INCOMPATIBLE` when the catalog epoch/revision is not supported.
 */
export async function connectWithRetry(cfg: DatabaseConfig, opts: ConnectWithRetryOptions): Promise<DbPool> {
  const { log, signal } = opts;
  const target = describeTarget(cfg.url);
  const ownsPool = opts.pool === undefined;
  const pool = opts.pool ?? createPool(cfg, log, opts.poolOptions);
  const initialDelayMs = opts.initialDelayMs ?? 250;
  const maxDelayMs = opts.maxDelayMs ?? 5000;
  const started = Date.now();
  const deadline = started + Math.max(0, opts.timeoutMs);

  const fail = (err: DbError): never => {
    // Not awaited: a connect attempt still pending would hold end() until it times out.
    if (ownsPool) pool.end().catch(() => {});
    throw err;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await withDeadline(pool.query('SELECT 1'), Math.max(1, deadline - Date.now()), target);
      if (attempt > 1) log.info({ target, attempt }, 'connected to PostgreSQL');
      break;
    } catch (e) {
      const err = toError(e);
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || signal?.aborted) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        const aborted = signal?.aborted ? ' (start-up aborted)' : '';
        fail(
          new DbError(
            `Cannot connect to PostgreSQL at ${target} after ${attempt} attempt${attempt === 1 ? '' : 's'} over ${seconds}s${aborted}: ${err.message}`,
            { code: 'DB_UNREACHABLE', cause: err },
          ),
        );
      }
      const delayMs = Math.min(backoffDelayMs(attempt - 1, initialDelayMs, maxDelayMs), remainingMs);
      log.warn({ err, target, attempt, retryInMs: delayMs }, 'PostgreSQL not reachable yet; retrying');
      await sleep(delayMs, signal);
    }
  }

  try {
    await checkPlatformCatalog(pool);
  } catch (e) {
    fail(
      e instanceof DbError
        ? e
        : new DbError(`Platform catalog check on ${target} failed: ${toError(e).message}`, { cause: e }),
    );
  }
  return pool;
}

/**
 * spec 04 §1.4 step 2: when `platform_catalog_state` exists, its epoch must be 1 and its
 * revision ≤ 1; a pre-catalog database (no table) passes.
 */
export async function checkPlatformCatalog(db: Queryable): Promise<void> {
  if (!(await relationExists(db, { schema: null, name: 'platform_catalog_state' }))) return;
  const state = await getPlatformCatalogState(db);
  if (state === null) {
    throw new DbError('Table platform_catalog_state exists but has no row; the Attune database is not initialised correctly', {
      code: 'DB_INCOMPATIBLE',
    });
  }
  const { compatibilityEpoch: epoch, revision } = state;
  if (epoch !== COMPATIBILITY_EPOCH || revision > CATALOG_REVISION) {
    // Upstream's message, verbatim.
    throw new DbError(
      `Unsupported platform catalog epoch/revision ${epoch}/${revision}; binary supports ${COMPATIBILITY_EPOCH}/${CATALOG_REVISION}. Use a compatible deployment; do not downgrade the catalog.`,
      { code: 'DB_INCOMPATIBLE' },
    );
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, target: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${target} within ${ms} ms`)), ms);
  });
  // The losing promise must not become an unhandled rejection.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
