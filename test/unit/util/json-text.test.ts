import { describe, expect, it } from 'vitest';
import { knownJsonText, sharedJsonText, SHARED_JSON_MIN_CHARS } from '../../../src/util/json-text';
import { buildEnvelope, encodeEnvelope, executionCompletedPayload } from '../../../src/mq/messages';
import { resultParam } from '../../../src/db/queries/complete-execution';

function completion(result: unknown) {
  return buildEnvelope('ExecutionCompleted', executionCompletedPayload({ executionId: 7, actionId: 3, actionRef: 'p.a "quoted"', status: 'Completed', result, completedAt: '2026-12-02T10:00:00.000Z' }), { sourceService: 'worker' });
}

describe('JSON text shared by the terminal UPDATE and the ExecutionCompleted body (issue 18)', () => {
  it('remembers only large texts of objects, and only for the very same value', () => {
    const small = { stdout: 'x' };
    expect(sharedJsonText(small)).toBe('{"stdout":"x"}');
    expect(knownJsonText(small)).toBeUndefined();
    const large = { stdout: 'y'.repeat(SHARED_JSON_MIN_CHARS) };
    expect(resultParam(large)).toBe(JSON.stringify(large));
    expect(knownJsonText(large)).toBe(JSON.stringify(large));
    expect(knownJsonText({ ...large })).toBeUndefined();
    expect(resultParam(null)).toBeNull();
    expect(sharedJsonText('s')).toBe('"s"');
  });

  it('splices a known result into the body: byte for byte what JSON.stringify of the envelope gives', () => {
    const result = { stdout: `${'é中😀 "q" \\ \n'.repeat(20_000)}`, exit_code: 0, succeeded: true, nested: { a: [1, null] } };
    resultParam(result);
    expect(knownJsonText(result)).toBeDefined();
    const env = completion(result);
    expect(encodeEnvelope(env).equals(Buffer.from(JSON.stringify(env), 'utf8'))).toBe(true);
  });

  it('takes the remembered text, not a new serialisation (why results must not change after the UPDATE)', () => {
    const result: { stdout: string; late?: boolean } = { stdout: 'z'.repeat(SHARED_JSON_MIN_CHARS) };
    const written = resultParam(result);
    result.late = true;
    const body = JSON.parse(encodeEnvelope(completion(result)).toString('utf8')) as { payload: { result: unknown } };
    expect(JSON.stringify(body.payload.result)).toBe(written);
  });

  it('serialises a result it does not know as before', () => {
    const env = completion({ stdout: 'w'.repeat(SHARED_JSON_MIN_CHARS) });
    expect(encodeEnvelope(env).toString('utf8')).toBe(JSON.stringify(env));
  });
});
