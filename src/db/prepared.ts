/**
 * Named (server-side prepared) statements for the per-execution queries (issue 18). PostgreSQL
 * parses and plans an unnamed statement on every call; for the log-stream CTE that was ~0.8 ms
 * of its CPU per execution. A query file marks its SQL with `prepared(name, sql)`; the
 * Queryable returned by `withPreparedStatements` sends those texts as `{ name, text, values }`
 * (node-postgres prepares once per connection, then only binds), everything else unchanged.
 *
 * Same statement text, same parameters, same rows: nothing a control plane observes changes.
 * (A PgBouncer in transaction mode needs `max_prepared_statements`, ≥ 1.21; without it set
 * `ATTUNE_AGENT_PREPARED_STATEMENTS=0`, read in agent.ts.)
 */
import type { Queryable, QueryResultLike } from './rows';

const names = new Map<string, string>();

/** Registers `sql` as a named statement; returns it unchanged (use as the query's SQL constant). */
export function prepared(name: string, sql: string): string {
  const existing = names.get(sql);
  if (existing !== undefined && existing !== name) throw new Error(`statement registered twice: ${existing} and ${name}`);
  names.set(sql, name);
  return sql;
}

/** The name `sql` is prepared under, or undefined. */
export function preparedName(sql: string): string | undefined {
  return names.get(sql);
}

/** What node-postgres' Pool offers: `query(text, values)` and `query({ name, text, values })`. */
export interface NamedQueryable extends Queryable {
  query(config: { name: string; text: string; values?: unknown[] }): Promise<QueryResultLike>;
  query(text: string, values?: unknown[]): Promise<QueryResultLike>;
}

/** A Queryable over `db` that sends registered statements by name. */
export function withPreparedStatements(db: NamedQueryable): Queryable {
  return {
    query(text: string, values?: unknown[]): Promise<QueryResultLike> {
      const name = names.get(text);
      return name === undefined ? db.query(text, values) : db.query({ name, text, values });
    },
  };
}
