import { describe, expect, it } from 'vitest';
import { decideDelayedMirror } from '../../../src/logs/delayed-mirror';

const base = { outputFormat: 'json', secretPaths: ['/token'], logsIncomplete: false, truncated: false, stdout: '{"token":"s3cr3t","n":1}\n', stderr: '' };

describe('decideDelayedMirror (spec 06 §4.4)', () => {
  it('redacts the secret paths and re-serialises compact JSON; stderr becomes the marker', () => {
    expect(decideDelayedMirror({ ...base, stderr: 'warn\n' })).toEqual({ kind: 'mirror', stdout: '{"token":"[REDACTED]","n":1}', stderr: '[REDACTED]\n' });
    expect(decideDelayedMirror({ ...base, stderr: 'x' })).toMatchObject({ stderr: '[REDACTED]' });
  });

  it('json via the last line keeps a redacted prefix', () => {
    expect(decideDelayedMirror({ ...base, stdout: 'progress s3cr3t\n{"token":"s3cr3t"}\n' })).toMatchObject({ stdout: '[REDACTED]\n{"token":"[REDACTED]"}' });
  });

  it('jsonl redacts every line; yaml goes through the YAML serialiser', () => {
    expect(decideDelayedMirror({ ...base, outputFormat: 'jsonl', stdout: '{"token":"a"}\n\n{"token":"b"}\n' })).toMatchObject({ stdout: '{"token":"[REDACTED]"}\n{"token":"[REDACTED]"}' });
    expect(decideDelayedMirror({ ...base, outputFormat: 'yaml', stdout: 'token: s3cr3t\nn: 1\n' })).toMatchObject({ stdout: 'token: "[REDACTED]"\nn: 1\n' });
  });

  it('suppresses with upstream reasons', () => {
    expect(decideDelayedMirror({ ...base, outputFormat: 'text' })).toEqual({ kind: 'suppressed', reason: 'text_output_with_secret_schema' });
    expect(decideDelayedMirror({ ...base, logsIncomplete: true })).toEqual({ kind: 'suppressed', reason: 'incomplete_capture' });
    expect(decideDelayedMirror({ ...base, truncated: true })).toEqual({ kind: 'suppressed', reason: 'truncated_capture' });
    expect(decideDelayedMirror({ ...base, stdout: 'not json' })).toEqual({ kind: 'suppressed', reason: 'output_parse_failed' });
    expect(decideDelayedMirror({ ...base, stdout: '{"n":1}' })).toEqual({ kind: 'suppressed', reason: 'secret_values_unavailable' });
  });
});
