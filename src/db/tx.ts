/**
 * Transactions (STYLE.md "Database"): one pooled client, BEGIN … COMMIT, ROLLBACK on any
 * error. A client whose connection broke is destroyed instead of being returned to the pool.
 */
import type pg from 'pg';
import { toError } from '../errors';
import type { Queryable } from './rows';

export async function withTransaction<T>(pool: pg.Pool, fn: (db: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no pool listener; without this an 'error' event would crash.
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken ??= toError(rollbackError);
    }
    throw e;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
