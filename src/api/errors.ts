/**
 * Error classes of the Attune API adapter (spec 06 §7.4). Callers branch on `kind`, never on
 * message text: `retryable` (connection/transport failure, timeout, HTTP 408/429/5xx),
 * `conflict` (HTTP 409, never retried), `rejected` (any other non-2xx status), `invalid`
 * (a 2xx answer the worker cannot use, e.g. a missing `x-attune-size` header).
 */
import { AgentError } from '../errors';

export type ApiErrorKind = 'retryable' | 'conflict' | 'rejected' | 'invalid';

export class ApiError extends AgentError {
  readonly kind: ApiErrorKind;
  /** HTTP status when the server answered; null for transport failures. */
  readonly status: number | null;

  constructor(kind: ApiErrorKind, message: string, options: { status?: number | null; cause?: unknown } = {}) {
    super('API_ERROR', message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status ?? null;
  }
}

/** spec 06 §7.4: 408, 429 and 5xx are retryable, 409 is a conflict, the rest a plain failure. */
export function kindForStatus(status: number): ApiErrorKind {
  if (status === 408 || status === 429 || status >= 500) return 'retryable';
  if (status === 409) return 'conflict';
  return 'rejected';
}

export function isRetryableApiError(e: unknown): boolean {
  return e instanceof ApiError && e.kind === 'retryable';
}
