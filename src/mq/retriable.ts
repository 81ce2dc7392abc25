/**
 * Which handler errors deserve a requeue (spec 02 §6: upstream requeues connection, channel,
 * publish, timeout and pool errors; everything else is rejected without requeue).
 * Core module: inspects error shapes only (no pg/amqplib import).
 */
import { AgentError } from '../errors';

const RETRIABLE_AGENT_CODES = new Set(['MQ_UNREACHABLE', 'MQ_ERROR', 'DB_UNREACHABLE', 'TIMEOUT']);

const RETRIABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTCONN',
]);

/** PostgreSQL SQLSTATEs of transient failures: connection exceptions (08xxx), shutdown, overload, serialization. */
function isTransientSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03', '53300', '40001', '40P01'].includes(code)
  );
}

/**
 * True when `e` (or anything in its `cause` chain) is a transient MQ/DB/network failure.
 * An error may also opt in or out explicitly with a boolean `retriable` property.
 */
export function isRetriableError(e: unknown): boolean {
  let cur: unknown = e;
  for (let depth = 0; cur !== null && cur !== undefined && depth < 8; depth++) {
    if (typeof cur !== 'object') return false;
    const err = cur as { retriable?: unknown; code?: unknown; cause?: unknown };
    if (typeof err.retriable === 'boolean') return err.retriable;
    if (cur instanceof AgentError) {
      if (RETRIABLE_AGENT_CODES.has(cur.code)) return true;
    } else if (typeof err.code === 'string') {
      if (RETRIABLE_ERRNO.has(err.code)) return true;
      if (/^[0-9A-Z]{5}$/.test(err.code) && isTransientSqlState(err.code)) return true;
    }
    cur = err.cause;
  }
  return false;
}

/**
 * Errors that will fail the same way when retried: a PostgreSQL SQLSTATE outside the transient
 * classes above (data, integrity, syntax, program-limit errors …) or a JS RangeError/TypeError
 * raised before any I/O (e.g. a value too deeply nested to serialise). Connection-level failures
 * (pg's code-less "Connection terminated", socket errnos) are not permanent.
 */
export function isPermanentError(e: unknown): boolean {
  if (e instanceof RangeError || e instanceof TypeError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !isTransientSqlState(code);
}
