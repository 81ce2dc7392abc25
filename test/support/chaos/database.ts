/** Databases with the development schema, and queries through outages (test/support/chaos.ts). */
import pg from 'pg';
import { applySchema } from '../../../scripts/apply-schema.mjs';
import { dropDatabase, randomDatabaseName, testDatabaseUrl } from '../db';
import type { PrivatePostgres } from './postgres';
import { sleep, waitFor } from './util';

// ------------------------------------------------------------------ databases

export interface ChaosDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * A fresh database with the development schema: on the private server when given, else on the
 * shared test server (test/support/db.ts conventions).
 */
export async function createChaosDatabase(server?: PrivatePostgres): Promise<ChaosDatabase> {
  const name = randomDatabaseName('attune_chaos');
  const url = server ? server.url(name) : testDatabaseUrl(name);
  await applySchema({ url });
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, options: '-c search_path=attune,public' });
  pool.on('connect', (c) => c.on('error', () => undefined));
  pool.on('error', () => undefined);
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      if (server) return; // the whole private server goes with its dir
      await dropDatabase(name);
    },
  };
}

/** `pool.query` retried through outages (the private server may be restarting). */
export async function queryRetry<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
  timeoutMs = 120_000,
): Promise<pg.QueryResult<R>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await pool.query<R>(sql, params);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

/** Rows of `execution` for `ids`: id → { status, result }. */
export async function executionRows(pool: pg.Pool, ids: number[]): Promise<Map<number, { status: string; result: Record<string, unknown> | null }>> {
  const res = await queryRetry<{ id: string; status: string; result: Record<string, unknown> | null }>(
    pool,
    'SELECT id, status, result FROM execution WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(res.rows.map((r) => [Number(r.id), { status: r.status, result: r.result }]));
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

/** Wait until every id has a terminal DB status; returns the rows. */
export async function waitTerminal(pool: pg.Pool, ids: number[], timeoutMs: number): Promise<Map<number, { status: string; result: Record<string, unknown> | null }>> {
  let rows = new Map<number, { status: string; result: Record<string, unknown> | null }>();
  await waitFor(
    `terminal status for ${ids.length} executions`,
    async () => {
      rows = await executionRows(pool, ids);
      return ids.every((id) => TERMINAL.has(rows.get(id)?.status ?? ''));
    },
    timeoutMs,
    200,
  ).catch((e: Error) => {
    const open = ids.filter((id) => !TERMINAL.has(rows.get(id)?.status ?? '')).map((id) => `${id}:${rows.get(id)?.status}`);
    throw new Error(`${e.message}; still open: ${open.slice(0, 20).join(', ')}`);
  });
  return rows;
}
