/**
 * Hostile input: the message envelope parser and the payload parsers (src/mq/messages.ts,
 * src/mq/payloads.ts) never throw, never hang, and say clearly what is wrong — for arbitrary
 * bytes, arbitrary JSON, and valid envelopes with one field mutated. Valid envelopes survive
 * build → encode → parse unchanged. Secret-bearing values never appear in error texts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEnvelope,
  encodeEnvelope,
  MESSAGE_TYPES,
  parseCancelRequest,
  parseEnvelope,
  parseExecutionDispatch,
  parsePackDeleted,
  parsePackRegistered,
  parsePackTestRequested,
  type MessageType,
} from '../../src/mq/messages';
import { CaseCounter, fcParams } from './fuzz-helpers';

const counter = new CaseCounter();
counter.printAfterAll('envelope');

const PAYLOAD_PARSERS = { parseExecutionDispatch, parseCancelRequest, parsePackRegistered, parsePackDeleted, parsePackTestRequested };

function checkResult(r: { ok: boolean; error?: string }): void {
  expect(typeof r.ok).toBe('boolean');
  if (!r.ok) {
    expect(typeof r.error).toBe('string');
    expect((r.error as string).length).toBeGreaterThan(10);
    // Bounded and single-purpose: an error text never carries a whole body.
    expect((r.error as string).length).toBeLessThan(600);
  }
}

const validEnvelope = fc.record({
  type: fc.constantFrom(...MESSAGE_TYPES),
  payload: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
  when: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
});

/** Field of a valid envelope to replace, and what with (undefined = delete). */
const mutation = fc.record({
  field: fc.constantFrom('message_id', 'correlation_id', 'message_type', 'version', 'timestamp', 'headers', 'payload'),
  value: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
});

describe('parseEnvelope on hostile input', () => {
  it('arbitrary bytes: never throws, bounded time, a clear error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        checkResult(counter.time('parseEnvelope(bytes)', () => parseEnvelope(Buffer.from(bytes))));
      }),
      fcParams(),
    );
  });

  it('arbitrary JSON documents: never throws; accepted ones are well-formed envelopes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (doc) => {
        const r = counter.time('parseEnvelope(json)', () => parseEnvelope(Buffer.from(JSON.stringify(doc))));
        checkResult(r);
        if (r.ok) {
          expect(MESSAGE_TYPES).toContain(r.envelope.message_type);
          expect(r.envelope.payload).toBeTypeOf('object');
          expect(Number.isSafeInteger(r.envelope.headers.retry_count)).toBe(true);
        }
      }),
      fcParams(),
    );
  });

  it('valid envelopes round-trip build → encode → parse', () => {
    fc.assert(
      fc.property(validEnvelope, ({ type, payload, when }) => {
        const env = buildEnvelope(type as MessageType, payload, { sourceService: 'fuzz', now: when });
        const r = counter.time('parseEnvelope(valid)', () => parseEnvelope(encodeEnvelope(env)));
        expect(r.ok).toBe(true);
        if (r.ok) expect(JSON.parse(JSON.stringify(r.envelope))).toEqual(JSON.parse(JSON.stringify(env)));
      }),
      fcParams(),
    );
  });

  it('a valid envelope with one field replaced or removed: accepted, or an error naming that field', () => {
    fc.assert(
      fc.property(validEnvelope, mutation, ({ type, payload, when }, m) => {
        const env = buildEnvelope(type as MessageType, payload, { sourceService: 'fuzz', now: when }) as unknown as Record<string, unknown>;
        if (m.value === undefined) delete env[m.field];
        else env[m.field] = m.value;
        const r = counter.time('parseEnvelope(mutated)', () => parseEnvelope(Buffer.from(JSON.stringify(env))));
        checkResult(r);
        if (!r.ok) expect(r.error).toMatch(new RegExp(m.field === 'message_type' ? 'message_type' : m.field.split('_')[0] as string));
      }),
      fcParams(),
    );
  });

  it('long string values are described, not echoed (a body can hold secrets)', () => {
    fc.assert(
      fc.property(fc.constantFrom('message_id', 'timestamp', 'version', 'message_type'), fc.string({ minLength: 41, maxLength: 200 }), (field, value) => {
        const secret = `SECRET${value}`;
        const env = buildEnvelope('ExecutionRequested', {}, { sourceService: 'fuzz' }) as unknown as Record<string, unknown>;
        env[field] = field === 'version' ? { nested: secret } : secret;
        const r = counter.time('parseEnvelope(secret)', () => parseEnvelope(Buffer.from(JSON.stringify(env))));
        if (!r.ok) expect(r.error).not.toContain(secret);
      }),
      fcParams(),
    );
  });
});

describe('payload parsers on hostile input', () => {
  const keys = ['execution_id', 'worker_id', 'action_ref', 'config', 'scheduled_attempt_updated_at', 'release_id', 'release_digest', 'pack_id', 'pack_ref', 'version', 'runtime_names', 'pack_install_id', 'pack_version', 'candidate_path', 'candidate_access_token', 'trigger_reason', 'required_runtimes', 'worker_selector', 'worker_tolerations', 'worker_affinity'];
  const payload = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer(), fc.maxSafeInteger(), fc.double(), fc.string()), { maxKeys: keys.length }),
  );

  for (const [name, parse] of Object.entries(PAYLOAD_PARSERS)) {
    it(`${name}: never throws; accepted values have the promised types`, () => {
      fc.assert(
        fc.property(payload, (p) => {
          const r = counter.time(name, () => parse(p));
          checkResult(r);
          if (r.ok) {
            for (const [k, v] of Object.entries(r.value as unknown as Record<string, unknown>)) {
              if (k.endsWith('_id') && v !== null) expect(Number.isSafeInteger(v), `${name}.${k}`).toBe(true);
            }
          }
        }),
        fcParams(),
      );
    });
  }

  it('parsePackTestRequested never puts candidate_access_token (string or not) into an error', () => {
    fc.assert(
      fc.property(payload, fc.string({ minLength: 1, maxLength: 60 }), fc.boolean(), (p, token, asObject) => {
        const canary = `TOKEN-${token}`;
        const body = { ...(typeof p === 'object' && p !== null && !Array.isArray(p) ? p : {}), candidate_access_token: asObject ? { t: canary } : canary };
        const r = counter.time('parsePackTestRequested(token)', () => parsePackTestRequested(body));
        if (!r.ok) expect(r.error).not.toContain(canary);
      }),
      fcParams(),
    );
  });
});
