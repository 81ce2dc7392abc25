import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStreamRedactor, LOG_REDACTION_MARKER, secretNeedles } from '../../../src/logs/stream-redactor';

function run(secrets: string[], chunks: string[]): string {
  const r = createStreamRedactor(secrets);
  const out = chunks.map((c) => r.push(Buffer.from(c, 'utf8')));
  out.push(r.flush());
  return Buffer.concat(out).toString('utf8');
}

describe('createStreamRedactor', () => {
  it('replaces a secret inside one chunk', () => {
    expect(run(['s3cr3t'], ['token=s3cr3t done\n'])).toBe(`token=${LOG_REDACTION_MARKER} done\n`);
  });

  it('replaces a secret split across two pipe reads', () => {
    expect(run(['s3cr3t'], ['token=s3c', 'r3t done\n'])).toBe(`token=${LOG_REDACTION_MARKER} done\n`);
  });

  it('replaces a secret split byte by byte across many reads', () => {
    const text = 'a CANARY-123 b CANARY-123';
    expect(run(['CANARY-123'], [...text])).toBe(`a ${LOG_REDACTION_MARKER} b ${LOG_REDACTION_MARKER}`);
  });

  it('holds back at most max(secret length) - 1 bytes', () => {
    const r = createStreamRedactor(['abcdef', 'xy']);
    expect(r.push(Buffer.from('0123456789')).toString()).toBe('01234');
    expect(r.flush().toString()).toBe('56789');
  });

  it('prefers the longest secret at the same position and handles several secrets', () => {
    expect(run(['pass', 'password'], ['my password and pass'])).toBe(`my ${LOG_REDACTION_MARKER} and ${LOG_REDACTION_MARKER}`);
  });

  it('passes bytes through untouched without secrets', () => {
    const r = createStreamRedactor([]);
    const b = Buffer.from('plain');
    expect(r.push(b)).toBe(b);
    expect(r.flush().length).toBe(0);
  });

  it('never lets a secret through, whatever the chunking (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 40 }), fc.string({ minLength: 0, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 30 }), (pre, post, cuts) => {
        const secret = 'S3CRET-Xy';
        const text = `${pre}${secret}${post}${secret}`;
        const chunks: string[] = [];
        let i = 0;
        for (const c of cuts) {
          if (i >= text.length) break;
          chunks.push(text.slice(i, i + c));
          i += c;
        }
        chunks.push(text.slice(i));
        const out = run([secret], chunks);
        expect(out).not.toContain(secret);
        expect(out).toBe(text.split(secret).join(LOG_REDACTION_MARKER));
      }),
    );
  });
});

describe('secretNeedles', () => {
  it('covers strings, their JSON-escaped form, scalars and nested string leaves', () => {
    expect(secretNeedles(['a"b', 42, { k: 'nested-v' }, ''])).toEqual(['a"b', 'a\\"b', '42', '{"k":"nested-v"}', 'nested-v']);
  });
});
