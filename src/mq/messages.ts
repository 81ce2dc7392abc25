/**
 * The message envelope: parse incoming bodies and build outgoing ones (spec 02 §3).
 * Core module: node built-ins only (no amqplib), so the execution flow can be unit-tested.
 * Payload parsers live in `payloads.ts`; routing names in `routing.ts` (both re-exported).
 */
import { randomUUID } from 'node:crypto';
import { describeValue, isPlainObject, isRfc3339, type ParseResult } from './json';
import { isMessageType, MESSAGE_TYPES, type MessageType } from './routing';
// The DB enum literals are the wire strings too (spec 02 §5.1, spec 04 §2); one definition.
import type { ExecutionStatusValue } from '../domain/execution-status';
import { knownJsonText } from '../util/json-text';

export * from './routing';
export * from './payloads';
export * from './json';

/** spec 02 §3.2: the `headers` object inside the JSON body (not AMQP headers). */
export interface EnvelopeHeaders {
  retry_count: number;
  source_service?: string;
  trace_id?: string;
  /** Extra keys are preserved on input (spec 02 §3.2). */
  [key: string]: unknown;
}

/** spec 02 §3.1. `payload` is left untyped here; the per-type parsers in payloads.ts check it. */
export interface Envelope<P = Record<string, unknown>> {
  message_id: string;
  correlation_id: string;
  message_type: MessageType;
  version: string;
  timestamp: string;
  headers: EnvelopeHeaders;
  payload: P;
}

export type EnvelopeParseResult = { ok: true; envelope: Envelope } | { ok: false; error: string };

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function parseUuidField(obj: Record<string, unknown>, key: string): ParseResult<string> {
  const v = obj[key];
  // spec 02 §3.1: missing or null → a random UUID is substituted.
  if (v === undefined || v === null) return { ok: true, value: randomUUID() };
  if (typeof v === 'string' && UUID_RE.test(v)) return { ok: true, value: v };
  return { ok: false, error: `${key} must be a UUID string, got ${describeValue(v)}` };
}

/**
 * Parse one message body into an envelope (spec 02 §3.1–3.2). Never throws; the error text is
 * safe to log (it names fields and value types, never payload contents).
 */
export function parseEnvelope(buf: Buffer): EnvelopeParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    return { ok: false, error: `body is not valid JSON (${(e as Error).message}; ${buf.length} bytes)` };
  }
  if (!isPlainObject(raw)) return { ok: false, error: `body must be a JSON object, got ${describeValue(raw)}` };

  const type = raw.message_type;
  if (type === undefined || type === null) return { ok: false, error: 'missing required field message_type' };
  if (!isMessageType(type)) {
    return {
      ok: false,
      error: `unknown message_type ${describeValue(type)} (expected one of ${MESSAGE_TYPES.join(', ')})`,
    };
  }
  if (raw.timestamp === undefined || raw.timestamp === null) {
    return { ok: false, error: 'missing required field timestamp' };
  }
  if (!isRfc3339(raw.timestamp)) {
    return { ok: false, error: `timestamp must be an RFC 3339 date-time, got ${describeValue(raw.timestamp)}` };
  }
  if (raw.payload === undefined) return { ok: false, error: 'missing required field payload' };
  if (!isPlainObject(raw.payload)) {
    return { ok: false, error: `payload must be a JSON object, got ${describeValue(raw.payload)}` };
  }

  const messageId = parseUuidField(raw, 'message_id');
  if (!messageId.ok) return messageId;
  const correlationId = parseUuidField(raw, 'correlation_id');
  if (!correlationId.ok) return correlationId;

  let version = '1.0';
  if (raw.version !== undefined && raw.version !== null) {
    if (typeof raw.version !== 'string') {
      return { ok: false, error: `version must be a string, got ${describeValue(raw.version)}` };
    }
    version = raw.version;
  }

  const headers = parseHeaders(raw.headers);
  if (!headers.ok) return headers;

  return {
    ok: true,
    envelope: {
      message_id: messageId.value,
      correlation_id: correlationId.value,
      message_type: type,
      version,
      timestamp: raw.timestamp,
      headers: headers.value,
      payload: raw.payload,
    },
  };
}

function parseHeaders(v: unknown): ParseResult<EnvelopeHeaders> {
  if (v === undefined || v === null) return { ok: true, value: { retry_count: 0 } };
  if (!isPlainObject(v)) return { ok: false, error: `headers must be a JSON object, got ${describeValue(v)}` };
  const out: EnvelopeHeaders = { ...v, retry_count: 0 };
  if (v.retry_count !== undefined && v.retry_count !== null) {
    if (!Number.isSafeInteger(v.retry_count) || (v.retry_count as number) < 0) {
      return { ok: false, error: `headers.retry_count must be an integer >= 0, got ${describeValue(v.retry_count)}` };
    }
    out.retry_count = v.retry_count as number;
  }
  for (const key of ['source_service', 'trace_id'] as const) {
    if (v[key] === null) delete out[key];
    else if (v[key] !== undefined && typeof v[key] !== 'string') {
      return { ok: false, error: `headers.${key} must be a string, got ${describeValue(v[key])}` };
    }
  }
  return { ok: true, value: out };
}

export interface BuildEnvelopeOptions {
  /** spec 02 §5: the worker writes `"worker"`. */
  sourceService: string;
  now?: Date;
  /** For tests; default a fresh UUID v4. */
  messageId?: string;
}

/**
 * Build an outgoing envelope with upstream's key order (spec 02 §3.1, §3.6): the worker's
 * correlation id equals its message id (spec 02 §5).
 */
export function buildEnvelope<P>(messageType: MessageType, payload: P, opts: BuildEnvelopeOptions): Envelope<P> {
  const messageId = opts.messageId ?? randomUUID();
  return {
    message_id: messageId,
    correlation_id: messageId,
    message_type: messageType,
    version: '1.0',
    timestamp: (opts.now ?? new Date()).toISOString(),
    headers: { retry_count: 0, source_service: opts.sourceService },
    payload,
  };
}

/** Lowercase status names as they appear in `previous_status` / `new_status` (spec 02 §5.1). */
export type WireExecutionStatus = ExecutionStatusValue;

export interface ExecutionStatusChangedPayload {
  execution_id: number;
  action_ref: string;
  previous_status: string;
  new_status: string;
  changed_at: string;
}

export interface ExecutionCompletedPayload {
  execution_id: number;
  action_id: number;
  action_ref: string;
  status: CompletionStatus;
  result: unknown;
  completed_at: string;
}

/** spec 02 §5.2: PascalCase (Rust debug name) on the worker's completions. */
// 'Abandoned' is what the executor's timeout monitor sends; the agent uses it for executions it settles as abandoned.
export type CompletionStatus = 'Completed' | 'Failed' | 'Cancelled' | 'Abandoned';

function toIso(t: Date | string): string {
  return typeof t === 'string' ? t : t.toISOString();
}

/** spec 02 §5.1, key order as upstream serialises the struct. */
export function executionStatusChangedPayload(input: {
  executionId: number;
  actionRef: string;
  previousStatus: WireExecutionStatus | string;
  newStatus: WireExecutionStatus | string;
  changedAt: Date | string;
}): ExecutionStatusChangedPayload {
  return {
    execution_id: input.executionId,
    action_ref: input.actionRef,
    previous_status: input.previousStatus,
    new_status: input.newStatus,
    changed_at: toIso(input.changedAt),
  };
}

/** spec 02 §5.2; `result` undefined is written as null (optional fields are explicit nulls, §3.4). */
export function executionCompletedPayload(input: {
  executionId: number;
  actionId: number;
  actionRef: string;
  status: CompletionStatus;
  result: unknown;
  completedAt: Date | string;
}): ExecutionCompletedPayload {
  return {
    execution_id: input.executionId,
    action_id: input.actionId,
    action_ref: input.actionRef,
    status: input.status,
    result: input.result === undefined ? null : input.result,
    completed_at: toIso(input.completedAt),
  };
}

/** Stands in for a result whose JSON text is already known; no real field can hold it. */
const RESULT_MARK = `\u0000attune-agent-result-${randomUUID()}\u0000`;
const RESULT_MARK_JSON = JSON.stringify(RESULT_MARK);

/**
 * The JSON body as bytes (what the publisher sends). A payload `result` whose text the
 * terminal UPDATE already made (util/json-text.ts) is spliced in instead of being serialised
 * again: the same bytes as `JSON.stringify(envelope)`, written straight into one buffer.
 */
export function encodeEnvelope(envelope: Envelope<unknown>): Buffer {
  const payload = envelope.payload as { result?: unknown } | null;
  const resultText = payload !== null && typeof payload === 'object' ? knownJsonText(payload.result) : undefined;
  if (resultText === undefined) return Buffer.from(JSON.stringify(envelope), 'utf8');
  const outer = JSON.stringify({ ...envelope, payload: { ...payload, result: RESULT_MARK } });
  const at = outer.indexOf(RESULT_MARK_JSON);
  if (at < 0) return Buffer.from(JSON.stringify(envelope), 'utf8');
  const head = outer.slice(0, at);
  const tail = outer.slice(at + RESULT_MARK_JSON.length);
  const headBytes = Buffer.byteLength(head, 'utf8');
  const textBytes = Buffer.byteLength(resultText, 'utf8');
  const body = Buffer.allocUnsafe(headBytes + textBytes + Buffer.byteLength(tail, 'utf8'));
  body.write(head, 0, 'utf8');
  body.write(resultText, headBytes, 'utf8');
  body.write(tail, headBytes + textBytes, 'utf8');
  return body;
}
