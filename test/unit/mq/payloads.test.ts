import { describe, it, expect } from 'vitest';
import {
  parseCancelRequest,
  parseExecutionDispatch,
  parsePackDeleted,
  parsePackRegistered,
  parsePackTestRequested,
} from '../../../src/mq/messages';

describe('parseExecutionDispatch', () => {
  it('parses the newest producer payload (spec §4.1 example)', () => {
    const r = parseExecutionDispatch({
      execution_id: 1234,
      worker_id: 42,
      action_ref: 'core.echo',
      config: { message: 'hello' },
      scheduled_attempt_updated_at: '2025-03-14T09:26:52.101532Z',
      release_id: 7,
      release_digest: 'sha256:abc',
    });
    expect(r).toEqual({
      ok: true,
      value: {
        execution_id: 1234,
        worker_id: 42,
        action_ref: 'core.echo',
        config: { message: 'hello' },
        scheduled_attempt_updated_at: '2025-03-14T09:26:52.101532Z',
        release_id: 7,
        release_digest: 'sha256:abc',
      },
    });
  });

  it('accepts the oldest producer shape, defaulting the optional fields to null', () => {
    const r = parseExecutionDispatch({ execution_id: 1, worker_id: 2, action_ref: 'a.b', extra: true });
    expect(r).toEqual({
      ok: true,
      value: {
        execution_id: 1,
        worker_id: 2,
        action_ref: 'a.b',
        config: null,
        scheduled_attempt_updated_at: null,
        release_id: null,
        release_digest: null,
      },
    });
  });

  it.each([
    [{ worker_id: 2, action_ref: 'a.b' }, 'missing required field payload.execution_id'],
    [{ execution_id: '1', worker_id: 2, action_ref: 'a.b' }, 'payload.execution_id must be an integer, got "1"'],
    [{ execution_id: 1.5, worker_id: 2, action_ref: 'a.b' }, 'payload.execution_id must be an integer, got number 1.5'],
    [{ execution_id: 1, action_ref: 'a.b' }, 'missing required field payload.worker_id'],
    [{ execution_id: 1, worker_id: 2 }, 'missing required field payload.action_ref'],
    [{ execution_id: 1, worker_id: 2, action_ref: 'a.b', release_id: 'x' }, 'payload.release_id must be an integer or null, got "x"'],
    [{ execution_id: 1, worker_id: 2, action_ref: 'a.b', release_digest: 5 }, 'payload.release_digest must be a string or null, got number 5'],
  ])('rejects %j: %s', (payload, error) => {
    expect(parseExecutionDispatch(payload)).toEqual({ ok: false, error });
  });
});

describe('parseCancelRequest', () => {
  it('requires execution_id and worker_id as upstream', () => {
    expect(parseCancelRequest({ execution_id: 9, worker_id: 1 })).toEqual({ ok: true, value: { execution_id: 9, worker_id: 1 } });
    expect(parseCancelRequest({ execution_id: 9 })).toEqual({ ok: false, error: 'missing required field payload.worker_id' });
    expect(parseCancelRequest('x')).toEqual({ ok: false, error: 'payload must be a JSON object, got "x"' });
  });
});

describe('parsePackRegistered / parsePackDeleted', () => {
  it('accepts payloads with and without the newest release fields', () => {
    const old = parsePackRegistered({ pack_id: 1, pack_ref: 'my-pack_2', version: '1.0.0', runtime_names: ['python'] });
    expect(old).toEqual({
      ok: true,
      value: { pack_id: 1, pack_ref: 'my-pack_2', version: '1.0.0', release_id: null, release_digest: null, runtime_names: ['python'] },
    });
    const newest = parsePackRegistered({ pack_id: 1, pack_ref: 'core', version: '2', release_id: 3, release_digest: 'd' });
    expect(newest.ok && newest.value).toMatchObject({ release_id: 3, release_digest: 'd', runtime_names: [] });
  });

  it.each(['Core', 'pack.name', '1pack', '', 'a b', '../etc'])('rejects pack_ref %j', (ref) => {
    const r = parsePackRegistered({ pack_id: 1, pack_ref: ref, version: '1' });
    expect(r.ok).toBe(false);
    if (!r.ok && ref !== '') expect(r.error).toMatch(/^payload\.pack_ref must be a pack ref/);
    expect(parsePackDeleted({ pack_id: 1, pack_ref: ref }).ok).toBe(false);
  });

  it('accepts a one-letter pack ref and rejects non-string runtime names', () => {
    expect(parsePackDeleted({ pack_id: 4, pack_ref: 'a' })).toEqual({ ok: true, value: { pack_id: 4, pack_ref: 'a', runtime_environment_paths: [], release_digests: [] } });
    expect(parsePackRegistered({ pack_id: 1, pack_ref: 'a', version: '1', runtime_names: [1] })).toEqual({
      ok: false,
      error: 'payload.runtime_names must be an array of strings, got an array',
    });
  });
});

describe('parsePackTestRequested', () => {
  const base = { pack_install_id: 5, pack_ref: 'core', pack_version: '1.2.3', trigger_reason: 'install' };

  it('applies the spec §4.4 defaults and omits an absent token', () => {
    const r = parsePackTestRequested(base);
    expect(r).toEqual({
      ok: true,
      value: {
        ...base,
        candidate_path: null,
        required_runtimes: [],
        worker_selector: {},
        worker_tolerations: [],
        worker_affinity: {},
      },
    });
    expect(r.ok && 'candidate_access_token' in r.value).toBe(false);
  });

  it('keeps the token but never puts it in an error text', () => {
    const secret = 'tok-SECRET-123';
    const ok = parsePackTestRequested({ ...base, candidate_access_token: secret });
    expect(ok.ok && ok.value.candidate_access_token).toBe(secret);
    const bad = parsePackTestRequested({ ...base, candidate_access_token: secret, pack_version: 7 });
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).not.toContain(secret);
    const badToken = parsePackTestRequested({ ...base, candidate_access_token: { v: secret } });
    expect(badToken).toEqual({ ok: false, error: 'payload.candidate_access_token must be a string' });
  });

  it('rejects a missing trigger_reason', () => {
    const { trigger_reason: _t, ...rest } = base;
    expect(parsePackTestRequested(rest)).toEqual({ ok: false, error: 'missing required field payload.trigger_reason' });
  });
});
