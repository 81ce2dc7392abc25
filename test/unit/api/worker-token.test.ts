import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { INSECURE_DEFAULT_JWT_SECRET, WorkerTokenProvider } from '../../../src/api/worker-token';

function decode(token: string, secret: string): { header: unknown; claims: Record<string, unknown> } {
  const [h, p, s] = token.split('.') as [string, string, string];
  expect(createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')).toBe(s);
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), claims: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}

describe('WorkerTokenProvider (spec 06 §5)', () => {
  it('signs upstream worker claims with HS256 and the configured secret', () => {
    let now = 1_000_000;
    const t = new WorkerTokenProvider({ secret: 'k', nowSec: () => now, instanceId: 'inst-1' });
    t.setWorkerId(42);
    const { header, claims } = decode(t.token(), 'k');
    expect(header).toEqual({ typ: 'JWT', alg: 'HS256' });
    expect(claims).toEqual({
      sub: '1',
      login: 'worker:42',
      iat: now,
      exp: now + 86_400,
      token_type: 'worker',
      scope: 'internal_files',
      metadata: { worker_id: '42', worker_instance: 'inst-1' },
    });
    now += 10;
    expect(decode(t.token(), 'k').claims.iat).toBe(1_000_000); // cached
  });

  it('regenerates near expiry, on a worker id change and on demand', () => {
    let now = 1_000_000;
    const t = new WorkerTokenProvider({ secret: 'k', nowSec: () => now });
    expect(decode(t.token(), 'k').claims.login).toBe('worker:unregistered');
    t.setWorkerId(5);
    expect(decode(t.token(), 'k').claims.login).toBe('worker:5');
    now += 86_400 - 301;
    expect(decode(t.token(), 'k').claims.iat).toBe(1_000_000);
    now += 1;
    expect(decode(t.token(), 'k').claims.iat).toBe(now);
    now += 1;
    expect(decode(t.token(true), 'k').claims.iat).toBe(now);
  });

  it('falls back to the insecure default secret when none is configured', () => {
    const t = new WorkerTokenProvider({ secret: '  ' });
    decode(t.token(), INSECURE_DEFAULT_JWT_SECRET);
  });
});
