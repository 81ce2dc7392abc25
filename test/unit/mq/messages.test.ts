import { describe, it, expect } from 'vitest';
import {
  buildEnvelope,
  encodeEnvelope,
  executionCompletedPayload,
  executionStatusChangedPayload,
  parseEnvelope,
  MESSAGE_TYPES,
} from '../../../src/mq/messages';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function body(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj), 'utf8');
}

const minimal = {
  message_type: 'ExecutionRequested',
  timestamp: '2025-03-14T09:26:52.104Z',
  payload: { execution_id: 1 },
};

describe('parseEnvelope', () => {
  it('accepts the spec §4.1 dispatch example and keeps every field', () => {
    const env = {
      message_id: '2b1d4c55-8e0a-4f6a-a1f3-5d9c0b7e6a24',
      correlation_id: '2b1d4c55-8e0a-4f6a-a1f3-5d9c0b7e6a24',
      message_type: 'ExecutionRequested',
      version: '1.0',
      timestamp: '2025-03-14T09:26:52.104Z',
      headers: { retry_count: 0, source_service: 'executor' },
      payload: { execution_id: 1234, worker_id: 42, action_ref: 'core.echo' },
    };
    const r = parseEnvelope(body(env));
    expect(r).toEqual({ ok: true, envelope: env });
  });

  it('fills defaults: random UUIDs for missing/null ids, version 1.0, headers {retry_count: 0}', () => {
    const r = parseEnvelope(body({ ...minimal, message_id: null }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.envelope.message_id).toMatch(UUID_V4);
    expect(r.envelope.correlation_id).toMatch(UUID_V4);
    expect(r.envelope.correlation_id).not.toBe(r.envelope.message_id);
    expect(r.envelope.version).toBe('1.0');
    expect(r.envelope.headers).toEqual({ retry_count: 0 });
  });

  it('ignores unknown top-level keys and keeps extra header keys', () => {
    const r = parseEnvelope(body({ ...minimal, extra: 1, headers: { source_service: 'api-service', x: 'y' } }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.envelope).not.toHaveProperty('extra');
    expect(r.envelope.headers).toEqual({ retry_count: 0, source_service: 'api-service', x: 'y' });
  });

  it('accepts every known message type and RFC 3339 timestamps with any fraction or offset', () => {
    for (const t of MESSAGE_TYPES) {
      expect(parseEnvelope(body({ ...minimal, message_type: t })).ok).toBe(true);
    }
    for (const ts of ['2025-03-14T09:26:53Z', '2025-03-14T09:26:53.589793123Z', '2025-03-14T11:26:53.5+02:00']) {
      expect(parseEnvelope(body({ ...minimal, timestamp: ts })).ok).toBe(true);
    }
  });

  it.each([
    ['not JSON', Buffer.from('{nope'), /not valid JSON/],
    ['a JSON array', body([1]), /must be a JSON object/],
    ['invalid UTF-8 JSON', Buffer.from([0xff, 0xfe]), /not valid JSON/],
    ['missing message_type', body({ ...minimal, message_type: undefined }), /missing required field message_type/],
    ['lowercase message_type', body({ ...minimal, message_type: 'executionrequested' }), /unknown message_type "executionrequested"/],
    ['ExecutionScheduled (no such type)', body({ ...minimal, message_type: 'ExecutionScheduled' }), /unknown message_type/],
    ['missing timestamp', body({ ...minimal, timestamp: undefined }), /missing required field timestamp/],
    ['non-date timestamp', body({ ...minimal, timestamp: 'yesterday' }), /timestamp must be an RFC 3339/],
    ['missing payload', body({ ...minimal, payload: undefined }), /missing required field payload/],
    ['null payload', body({ ...minimal, payload: null }), /payload must be a JSON object, got null/],
    ['array payload', body({ ...minimal, payload: [] }), /payload must be a JSON object, got an array/],
    ['non-UUID message_id', body({ ...minimal, message_id: 'abc' }), /message_id must be a UUID/],
    ['numeric version', body({ ...minimal, version: 1 }), /version must be a string/],
    ['negative retry_count', body({ ...minimal, headers: { retry_count: -1 } }), /retry_count must be an integer >= 0/],
  ])('rejects %s with a clear error', (_name, buf, re) => {
    const r = parseEnvelope(buf);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(re);
  });
});

describe('buildEnvelope', () => {
  const now = new Date('2025-03-14T09:26:53.589Z');

  it('writes upstream key order with correlation_id = message_id and source_service', () => {
    const env = buildEnvelope('ExecutionStatusChanged', { a: 1 }, { sourceService: 'worker', now });
    expect(Object.keys(env)).toEqual([
      'message_id',
      'correlation_id',
      'message_type',
      'version',
      'timestamp',
      'headers',
      'payload',
    ]);
    expect(env.message_id).toMatch(UUID_V4);
    expect(env.correlation_id).toBe(env.message_id);
    expect(env.version).toBe('1.0');
    expect(env.timestamp).toBe('2025-03-14T09:26:53.589Z');
    expect(Object.keys(env.headers)).toEqual(['retry_count', 'source_service']);
    expect(env.headers).toEqual({ retry_count: 0, source_service: 'worker' });
  });

  it('produces a fresh message id per envelope', () => {
    const a = buildEnvelope('ExecutionCompleted', {}, { sourceService: 'worker' });
    const b = buildEnvelope('ExecutionCompleted', {}, { sourceService: 'worker' });
    expect(a.message_id).not.toBe(b.message_id);
  });

  it('matches the spec §3.6 example byte for byte (given the same ids and times)', () => {
    const payload = executionStatusChangedPayload({
      executionId: 1234,
      actionRef: 'core.echo',
      previousStatus: 'scheduled',
      newStatus: 'running',
      changedAt: '2025-03-14T09:26:53.589701Z',
    });
    const env = buildEnvelope('ExecutionStatusChanged', payload, {
      sourceService: 'worker',
      messageId: '7c0e6a52-3f1b-4d8e-9b0a-2a4f5c6d7e81',
      now,
    });
    const expected = {
      message_id: '7c0e6a52-3f1b-4d8e-9b0a-2a4f5c6d7e81',
      correlation_id: '7c0e6a52-3f1b-4d8e-9b0a-2a4f5c6d7e81',
      message_type: 'ExecutionStatusChanged',
      version: '1.0',
      timestamp: '2025-03-14T09:26:53.589Z',
      headers: { retry_count: 0, source_service: 'worker' },
      payload: {
        execution_id: 1234,
        action_ref: 'core.echo',
        previous_status: 'scheduled',
        new_status: 'running',
        changed_at: '2025-03-14T09:26:53.589701Z',
      },
    };
    expect(encodeEnvelope(env).toString('utf8')).toBe(JSON.stringify(expected));
  });

  it('round-trips through parseEnvelope unchanged', () => {
    const env = buildEnvelope('ExecutionCompleted', { execution_id: 5 }, { sourceService: 'worker', now });
    expect(parseEnvelope(encodeEnvelope(env))).toEqual({ ok: true, envelope: env });
  });
});

describe('payload builders', () => {
  it('status changed: spec §5.1 keys in order, Date converted to ISO UTC', () => {
    const p = executionStatusChangedPayload({
      executionId: 7,
      actionRef: 'core.echo',
      previousStatus: 'failed',
      newStatus: 'completed',
      changedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)),
    });
    expect(Object.keys(p)).toEqual(['execution_id', 'action_ref', 'previous_status', 'new_status', 'changed_at']);
    expect(p).toEqual({
      execution_id: 7,
      action_ref: 'core.echo',
      previous_status: 'failed',
      new_status: 'completed',
      changed_at: '2025-01-02T03:04:05.006Z',
    });
  });

  it('completed: spec §5.2 keys in order, numeric action_id, PascalCase status, explicit null result', () => {
    const p = executionCompletedPayload({
      executionId: 7,
      actionId: 3,
      actionRef: 'core.echo',
      status: 'Cancelled',
      result: undefined,
      completedAt: '2025-01-02T03:04:05Z',
    });
    expect(Object.keys(p)).toEqual(['execution_id', 'action_id', 'action_ref', 'status', 'result', 'completed_at']);
    expect(JSON.parse(JSON.stringify(p))).toEqual({
      execution_id: 7,
      action_id: 3,
      action_ref: 'core.echo',
      status: 'Cancelled',
      result: null,
      completed_at: '2025-01-02T03:04:05Z',
    });
  });

  it('completed: keeps a structured result as given', () => {
    const result = { exit_code: 1, stdout: 'x', nested: [1, { a: null }] };
    const p = executionCompletedPayload({
      executionId: 1,
      actionId: 2,
      actionRef: 'p.a',
      status: 'Completed',
      result,
      completedAt: new Date(0),
    });
    expect(p.result).toEqual(result);
    expect(p.completed_at).toBe('1970-01-01T00:00:00.000Z');
  });
});
