import { describe, expect, it } from 'vitest';
import { redactActionResult, secretPathsFromSchema } from '../../../src/execution/redact';

const MARKER = { $attune_secret: true, redacted: true };

describe('secret paths from out_schema', () => {
  it('reads the flat pack format, including nested properties', () => {
    const schema = {
      user: { type: 'string' },
      token: { type: 'string', secret: true },
      creds: { type: 'object', properties: { 'pass/word': { secret: true }, name: {} } },
    };
    expect(secretPathsFromSchema(schema)).toEqual(['/creds/pass~1word', '/token']);
  });

  it('reads JSON Schema with top-level properties', () => {
    const schema = { type: 'object', properties: { a: { secret: true }, b: { properties: { c: { secret: true } } } } };
    expect(secretPathsFromSchema(schema)).toEqual(['/a', '/b/c']);
  });

  it('returns nothing for non-object schemas', () => {
    expect(secretPathsFromSchema(null)).toEqual([]);
    expect(secretPathsFromSchema([{ secret: true }])).toEqual([]);
  });
});

describe('redactActionResult (spec 03 §4.5)', () => {
  it('replaces secret data paths and, because the schema has secrets, stdout and error too', () => {
    const result: Record<string, unknown> = {
      succeeded: false,
      exit_code: 0,
      error: 'oops',
      data: { token: 'tok-123', user: 'alice', nested: null },
    };
    const originals = redactActionResult(result, { token: { secret: true }, user: {} }, []);
    expect(result).toEqual({ succeeded: false, exit_code: 0, error: MARKER, data: { token: MARKER, user: 'alice', nested: null } });
    expect(originals).toEqual([
      { jsonPath: '/data/token', value: 'tok-123', sourceKind: 'parameter_schema', sourceRef: '/token' },
      { jsonPath: '/error', value: 'oops', sourceKind: 'parameter_schema', sourceRef: '/error' },
    ]);
  });

  it('replaces stdout and error when the execution had secret parameters, even without a schema', () => {
    const result: Record<string, unknown> = { succeeded: true, stdout: 'echoed s3cret\n' };
    const originals = redactActionResult(result, null, ['/password']);
    expect(result.stdout).toEqual(MARKER);
    expect(originals).toHaveLength(1);
    expect(originals[0]).toMatchObject({ jsonPath: '/stdout', value: 'echoed s3cret\n' });
  });

  it('leaves a result without secrets untouched', () => {
    const result: Record<string, unknown> = { succeeded: true, stdout: 'x', data: { a: 1 } };
    expect(redactActionResult(result, { a: { type: 'integer' } }, [])).toEqual([]);
    expect(result).toEqual({ succeeded: true, stdout: 'x', data: { a: 1 } });
  });

  it('redacts only the outermost of nested secret paths', () => {
    const schema = { a: { secret: true, properties: { b: { secret: true } } } };
    const result: Record<string, unknown> = { data: { a: { b: 1 } } };
    const originals = redactActionResult(result, schema, []);
    expect(result.data).toEqual({ a: MARKER });
    expect(originals.map((o) => o.jsonPath)).toEqual(['/data/a']);
  });
});
