/**
 * PostgreSQL helpers for integration tests: a throwaway database `attune_test_<random>` with the
 * development schema (scripts/sql) applied, a pool configured like the agent's, and cleanup.
 *
 * Env: ATTUNE_TEST_DATABASE_URL (server + maintenance db, default
 * postgresql://postgres@127.0.0.1:5432/postgres); ATTUNE_TEST_KEEP_DB=1 keeps databases for
 * inspection (their names are printed).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applySchema } from '../../scripts/apply-schema.mjs';
import type { DatabaseConfig } from '../../src/config/types';
import { createSilentLogger, type Logger } from '../../src/log';
import { createPool, type DbPool } from '../../src/db/pool';
import { describeTarget } from '../../src/util/redact';

export const PG_START_HINT = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';

/** Server URL whose database is the maintenance db (`postgres`). */
export function testDatabaseBaseUrl(): string {
  return process.env.ATTUNE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

/** The base URL with another database name. */
export function testDatabaseUrl(database: string): string {
  const u = new URL(testDatabaseBaseUrl());
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A DatabaseConfig like the agent's defaults, for `url`. */
export function testDatabaseConfig(url: string, overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return {
    url,
    maxConnections: 5,
    minConnections: 0,
    connectTimeoutSec: 5,
    idleTimeoutSec: 30,
    logStatements: false,
    schema: 'attune',
    ...overrides,
  };
}

/** Fails with a message saying exactly what to start when PostgreSQL cannot be reached. */
export async function assertPostgresReachable(url = testDatabaseBaseUrl()): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    throw new Error(
      `PostgreSQL is not reachable at ${describeTarget(url)} (${(e as Error).message}). ` +
        `Start it with: ${PG_START_HINT}  (or point ATTUNE_TEST_DATABASE_URL at a server)`,
      { cause: e },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  config: DatabaseConfig;
  /** Pool with search_path = attune, public (as the agent's). */
  pool: DbPool;
  /** Close the pool and drop the database (kept when ATTUNE_TEST_KEEP_DB=1). */
  drop(): Promise<void>;
}

export function randomDatabaseName(prefix = 'attune_test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Create `attune_test_<random>`, apply the schema, return a pool on it. */
export async function createTestDatabase(opts: { log?: Logger; withSchema?: boolean } = {}): Promise<TestDatabase> {
  await assertPostgresReachable();
  const name = randomDatabaseName();
  const url = testDatabaseUrl(name);
  if (opts.withSchema === false) {
    await adminQuery(`CREATE DATABASE ${quoteIdent(name)}`);
  } else {
    await applySchema({ url });
  }
  const config = testDatabaseConfig(url);
  const pool = createPool(config, opts.log ?? createSilentLogger());
  return {
    name,
    url,
    config,
    pool,
    drop: async () => {
      await pool.end().catch(() => {});
      await dropDatabase(name);
    },
  };
}

/** DROP DATABASE … WITH (FORCE), unless ATTUNE_TEST_KEEP_DB=1. */
export async function dropDatabase(name: string): Promise<void> {
  if (process.env.ATTUNE_TEST_KEEP_DB === '1') {
    console.log(`[test] keeping database ${name} (ATTUNE_TEST_KEEP_DB=1)`);
    return;
  }
  await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

/** One statement on the maintenance database. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testDatabaseBaseUrl() });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end().catch(() => {});
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
