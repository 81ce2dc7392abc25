/**
 * The API pack transport against the fake pack-release endpoint (a real HTTP server on
 * 127.0.0.1): download + verify + cache, digest mismatch, single-flight, API faults, token use.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log';
import { ApiPackTransport } from '../../../src/packs/api-transport';
import { PackReleaseError } from '../../../src/packs/errors';
import { testPackArchiveApi } from '../../support/pack-archive-api';
import { ReleaseCache } from '../../../src/packs/release-cache';
import { isReleaseReady, releaseCacheRoot } from '../../../src/packs/release-layout';
import { addRelease, startFakePackReleaseApi, type FakePackReleaseApi } from '../../support/fake-api-pack-releases';
import { unusedPort } from '../../support/amqp';
import { simplePackArchive } from '../../support/pack-archive';

const SECRET = 'unit-jwt-secret-canary-4f1c';
let api: FakePackReleaseApi;
let base: string;
let logText: string;

beforeAll(async () => {
  api = await startFakePackReleaseApi(SECRET);
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'attune-apit-'));
  api.state.requests.length = 0;
  api.state.faults.length = 0;
  api.state.releases.clear();
  logText = '';
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function transport(opts: { maxBytes?: number; workerId?: number; timeoutMs?: number; signal?: AbortSignal } = {}): ApiPackTransport {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText += String(chunk);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', destination: sink });
  const cache = new ReleaseCache({ packsBaseDir: base, maxBytes: opts.maxBytes ?? 1 << 30, log });
  return new ApiPackTransport({
    api: testPackArchiveApi({ baseUrl: `${api.url}/`, jwtSecret: SECRET, workerId: opts.workerId ?? 7 }),
    cache,
    packsBaseDir: base,
    log,
    downloadTimeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
}

function leftovers(): string[] {
  const names = existsSync(releaseCacheRoot(base)) ? readdirSync(releaseCacheRoot(base)).filter((n) => n.startsWith('.')) : [];
  const dl = join(base, '.pack-downloads');
  return [...names, ...(existsSync(dl) ? readdirSync(dl) : [])];
}

async function failure(p: Promise<unknown>): Promise<PackReleaseError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(PackReleaseError);
  return e as PackReleaseError;
}

describe('ApiPackTransport', () => {
  it('downloads with a worker token, verifies, caches; the next sync makes no request', async () => {
    const r = addRelease(api.state, 42, simplePackArchive('demo'));
    const t = transport({ workerId: 7 });
    const dir = await t.syncRelease('demo', 42, r.digest);
    expect(dir).toBe(join(base, '.releases', 'sha256', r.digest, 'pack'));
    expect(isReleaseReady(base, r.digest)).toBe(true);
    expect(api.state.requests).toHaveLength(1);
    const claims = api.state.requests[0]!.claims!;
    expect(claims).toMatchObject({ sub: '1', login: 'worker:7', token_type: 'worker', scope: 'internal_files', metadata: { worker_id: '7' } });
    expect(claims.exp).toBe((claims.iat as number) + 86_400);
    expect(String((claims.metadata as Record<string, unknown>).worker_instance)).toMatch(/^[0-9a-f-]{36}$/);
    await t.syncRelease('demo', 42, r.digest);
    expect(api.state.requests).toHaveLength(1);
    expect(leftovers()).toEqual([]);
    // Neither the token nor the secret that signs it reaches the logs.
    const token = (api.state.requests[0]!.authorization ?? '').replace(/^Bearer /, '');
    expect(token.length).toBeGreaterThan(100);
    expect(logText).toContain('downloading pack release');
    expect(logText).not.toContain(token);
    expect(logText).not.toContain(token.split('.')[2]);
    expect(logText).not.toContain(SECRET);
  });

  it('fails a tampered archive with a digest mismatch before unpacking and caches nothing', async () => {
    const r = addRelease(api.state, 5, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'tamper' });
    const e = await failure(transport().syncRelease('demo', 5, r.digest));
    expect(e.kind).toBe('invalid');
    expect(e.message).toMatch(new RegExp(`^Pack release 5 digest mismatch: expected ${r.digest}, got [0-9a-f]{64}$`));
    expect(existsSync(join(base, '.releases', 'sha256', r.digest))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('16 concurrent syncs of a new release make exactly one download', async () => {
    const r = addRelease(api.state, 9, simplePackArchive('demo', { 'big.txt': 'b'.repeat(200_000) }));
    api.state.faults.push({ kind: 'delay', ms: 200 });
    const t = transport();
    const dirs = await Promise.all(Array.from({ length: 16 }, () => t.syncRelease('demo', 9, r.digest)));
    expect(new Set(dirs).size).toBe(1);
    expect(api.state.requests).toHaveLength(1);
    expect(t.downloads).toBe(1);
    expect(leftovers()).toEqual([]);
  });

  it('reports HTTP 500 as unavailable with the status and body, and caches nothing', async () => {
    const r = addRelease(api.state, 3, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'status', status: 500, body: 'database is down' });
    const t = transport();
    const e = await failure(t.syncRelease('demo', 3, r.digest));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toBe("pack archive for 'demo' download returned 500 Internal Server Error: database is down");
    expect(isReleaseReady(base, r.digest)).toBe(false);
    await t.syncRelease('demo', 3, r.digest); // the API is back
    expect(isReleaseReady(base, r.digest)).toBe(true);
  });

  it('reports a connection closed mid-body as unavailable and leaves no download file', async () => {
    const r = addRelease(api.state, 4, simplePackArchive('demo', { 'big.txt': 'c'.repeat(300_000) }));
    api.state.faults.push({ kind: 'close-mid-body' });
    const e = await failure(transport().syncRelease('demo', 4, r.digest));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toMatch(/^Failed to read pack archive for 'demo': /);
    expect(leftovers()).toEqual([]);
    expect(isReleaseReady(base, r.digest)).toBe(false);
  });

  it('waits for a slow API (10 s) within the request timeout', async () => {
    const r = addRelease(api.state, 6, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'delay', ms: 10_000 });
    const started = Date.now();
    await transport().syncRelease('demo', 6, r.digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_900);
    expect(isReleaseReady(base, r.digest)).toBe(true);
  }, 30_000);

  it('gives up on an API slower than the request timeout', async () => {
    const r = addRelease(api.state, 8, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'delay', ms: 3_000 });
    const e = await failure(transport({ timeoutMs: 500 }).syncRelease('demo', 8, r.digest));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toMatch(/timed out/);
  });

  it('sends the request once more with a fresh token after a 401', async () => {
    const r = addRelease(api.state, 11, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'status', status: 401, body: 'expired' });
    await transport().syncRelease('demo', 11, r.digest);
    expect(api.state.requests.map((q) => q.status)).toEqual([401, 200]);
  });

  it('a wrong jwt secret ends as 401 twice with a hint, not as a hang or a loop', async () => {
    const r = addRelease(api.state, 12, simplePackArchive('demo'));
    const cache = new ReleaseCache({ packsBaseDir: base, maxBytes: 1 << 30, log: createLogger({ level: 'silent', format: 'json' }) });
    const t = new ApiPackTransport({
      api: testPackArchiveApi({ baseUrl: api.url, jwtSecret: 'not-the-api-secret', workerId: 1 }),
      cache,
      packsBaseDir: base,
      log: createLogger({ level: 'silent', format: 'json' }),
    });
    const e = await failure(t.syncRelease('demo', 12, r.digest));
    expect(e.message).toMatch(/returned 401 Unauthorized: .*check that security.jwt_secret/);
    expect(api.state.requests).toHaveLength(2);
  });

  it('refuses an archive whose Content-Length exceeds 100 MiB without reading it', async () => {
    const r = addRelease(api.state, 13, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'declare-length', length: 100 * 1024 * 1024 + 1 });
    const e = await failure(transport().syncRelease('demo', 13, r.digest));
    expect(e.kind).toBe('invalid');
    expect(e.message).toBe("pack archive for 'demo' exceeds the 104857600 byte download limit");
    expect(leftovers()).toEqual([]);
  });

  it('reports an unknown release (404) as unavailable', async () => {
    const e = await failure(transport().syncRelease('demo', 999, 'f'.repeat(64)));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toMatch(/returned 404 Not Found: .*Pack release 999 not found/);
    expect(leftovers()).toEqual([]);
  });

  it('reports an unreachable API with the address and the system error', async () => {
    const port = await unusedPort();
    const cache = new ReleaseCache({ packsBaseDir: base, maxBytes: 1 << 30, log: createLogger({ level: 'silent', format: 'json' }) });
    const t = new ApiPackTransport({
      api: testPackArchiveApi({ baseUrl: `http://127.0.0.1:${port}`, jwtSecret: SECRET, workerId: 1 }),
      cache,
      packsBaseDir: base,
      log: createLogger({ level: 'silent', format: 'json' }),
    });
    const e = await failure(t.syncRelease('demo', 1, 'f'.repeat(64)));
    expect(e.kind).toBe('unavailable');
    expect(e.message).toMatch(/^Failed to download pack archive for 'demo' from http:\/\/127.0.0.1:\d+\/api\/v1\/internal\/pack-releases\/1\/archive: .*ECONNREFUSED/);
  });

  it('validates the pack ref, release id and digest before any request', async () => {
    const t = transport();
    expect((await failure(t.syncRelease('../x', 1, 'a'.repeat(64)))).kind).toBe('invalid');
    expect((await failure(t.syncRelease('demo', 0, 'a'.repeat(64)))).message).toBe('Validation error: Pack release ID must be positive');
    expect((await failure(t.syncRelease('demo', 1, 'A'.repeat(64)))).kind).toBe('invalid');
    expect(api.state.requests).toHaveLength(0);
  });

  it('evicts an unused release when a new one pushes the cache over its bound', async () => {
    const a = addRelease(api.state, 21, simplePackArchive('demo', { 'a.txt': 'a'.repeat(5000) }));
    const b = addRelease(api.state, 22, simplePackArchive('demo', { 'b.txt': 'b'.repeat(5000) }));
    const t = transport({ maxBytes: 8000 });
    await t.syncRelease('demo', 21, a.digest);
    await t.syncRelease('demo', 22, b.digest);
    expect(isReleaseReady(base, a.digest)).toBe(false);
    expect(isReleaseReady(base, b.digest)).toBe(true);
    await t.syncRelease('demo', 21, a.digest); // fetched again on the next use
    expect(api.downloads(21)).toBe(2);
  });
});
