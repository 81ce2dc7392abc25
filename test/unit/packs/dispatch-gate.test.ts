import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { ApiPackTransport } from '../../../src/packs/api-transport';
import { PackReleaseGate } from '../../../src/packs/dispatch-gate';
import { testPackArchiveApi } from '../../support/pack-archive-api';
import { ReleaseCache } from '../../../src/packs/release-cache';
import { packsTransportProblems, resolvePacksTransport } from '../../../src/packs/transport-config';
import { addRelease, startFakePackReleaseApi, type FakePackReleaseApi } from '../../support/fake-api-pack-releases';
import { simplePackArchive } from '../../support/pack-archive';

const SECRET = 'gate-secret';
const log = createSilentLogger();
let api: FakePackReleaseApi;
let base: string;
let running: number[];

beforeAll(async () => {
  api = await startFakePackReleaseApi(SECRET);
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'attune-gate-'));
  api.state.faults.length = 0;
  api.state.requests.length = 0;
  running = [];
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function gate(opts: { maxBytes?: number; giveUpMs?: number; signal?: AbortSignal } = {}): { gate: PackReleaseGate; cache: ReleaseCache } {
  const cache = new ReleaseCache({ packsBaseDir: base, maxBytes: opts.maxBytes ?? 1 << 30, log });
  const transport = new ApiPackTransport({ api: testPackArchiveApi({ baseUrl: api.url, jwtSecret: SECRET, workerId: 3 }), cache, packsBaseDir: base, log, signal: opts.signal });
  const g = new PackReleaseGate({
    transport,
    packsBaseDir: base,
    log,
    runningExecutionIds: () => running,
    signal: opts.signal,
    giveUpMs: opts.giveUpMs,
    initialBackoffMs: 10,
    maxBackoffMs: 20,
  });
  return { gate: g, cache };
}

const row = (id: number, releaseId: number | null, digest: string | null) => ({ id, actionRef: 'demo.run', packRelease: releaseId, packReleaseDigest: digest });

describe('PackReleaseGate', () => {
  it('runs unpinned executions untouched (legacy pack dir)', async () => {
    const { gate: g } = gate();
    expect(await g.beforeRun(row(1, null, null))).toBe('run');
    expect(g.packDirFor(row(1, null, null))).toBeNull();
    expect(api.state.requests).toHaveLength(0);
    g.stop();
  });

  it('makes the release local before running and answers its pack dir', async () => {
    const r = addRelease(api.state, 70, simplePackArchive('demo'));
    const { gate: g } = gate();
    expect(await g.beforeRun(row(2, 70, r.digest))).toBe('run');
    expect(g.packDirFor(row(2, 70, r.digest))).toEqual({ ok: true, packDir: join(base, '.releases', 'sha256', r.digest, 'pack') });
    g.stop();
  });

  it('lets an invalid release run into a prepare failure with the upstream-style message', async () => {
    const r = addRelease(api.state, 71, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'tamper' });
    const { gate: g } = gate();
    expect(await g.beforeRun(row(3, 71, r.digest))).toBe('run');
    const answer = g.packDirFor(row(3, 71, r.digest));
    expect(answer).toMatchObject({ ok: false });
    expect((answer as { error: string }).error).toMatch(/^Failed to materialize pinned release 71 for execution 3: Pack release 71 digest mismatch: /);
    g.stop();
  });

  it('requeues while the API fails, then gives up and acks (the row stays scheduled)', async () => {
    const r = addRelease(api.state, 72, simplePackArchive('demo'));
    for (let i = 0; i < 10; i++) api.state.faults.push({ kind: 'status', status: 502 });
    const { gate: g } = gate({ giveUpMs: 150 });
    const decisions: string[] = [];
    for (let i = 0; i < 30; i++) {
      const d = await g.beforeRun(row(4, 72, r.digest));
      decisions.push(d);
      if (d === 'ack') break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(decisions[0]).toBe('requeue');
    expect(decisions.at(-1)).toBe('ack');
    expect(decisions.filter((d) => d === 'run')).toHaveLength(0);
    g.stop();
  });

  it('requeues at once when the agent is stopping', async () => {
    const r = addRelease(api.state, 73, simplePackArchive('demo'));
    api.state.faults.push({ kind: 'delay', ms: 2000 });
    const stop = new AbortController();
    const { gate: g } = gate({ signal: stop.signal });
    const pending = g.beforeRun(row(5, 73, r.digest));
    setTimeout(() => stop.abort(), 100);
    const t0 = Date.now();
    expect(await pending).toBe('requeue');
    expect(Date.now() - t0).toBeLessThan(1500);
    g.stop();
  });

  it('holds a release while its execution runs and frees it once it has finished', async () => {
    const a = addRelease(api.state, 74, simplePackArchive('demo', { 'a.txt': 'a'.repeat(4000) }));
    const b = addRelease(api.state, 75, simplePackArchive('demo', { 'b.txt': 'b'.repeat(4000) }));
    const { gate: g, cache } = gate({ maxBytes: 6000 });
    expect(await g.beforeRun(row(6, 74, a.digest))).toBe('run');
    running = [6];
    g.packDirFor(row(6, 74, a.digest)); // prepare of the running execution
    expect(await g.beforeRun(row(7, 75, b.digest))).toBe('run'); // a is held: not evicted
    expect(cache.isReady(a.digest)).toBe(true);
    running = [7];
    g.packDirFor(row(7, 75, b.digest));
    g.sweep(); // 6 finished: its hold ends
    expect(await cache.enforceBound()).toEqual([a.digest]);
    g.stop();
  });
});

describe('pack transport selection', () => {
  const config = (packsTransport: 'auto' | 'api' | 'volume', jwtSecret: string | null = 's') => ({
    packsTransport,
    packsBaseDir: '/p',
    security: { jwtSecret, encryptionKey: null, enableAuth: true, jwtAccessExpiration: 1, jwtRefreshExpiration: 1 },
  });

  it('auto is the volume when the sentinel exists, else the API (upstream)', () => {
    expect(resolvePacksTransport(config('auto'), (p) => p === '/p/.attune-packs-sentinel')).toBe('volume');
    expect(resolvePacksTransport(config('auto'), () => false)).toBe('api');
    expect(resolvePacksTransport(config('volume'), () => false)).toBe('volume');
    expect(resolvePacksTransport(config('api'), () => true)).toBe('api');
  });

  it('names what is missing for the API transport', () => {
    expect(packsTransportProblems(config('api', '  '), { ATTUNE_API_URL: 'http://api' }, 'api').map((p) => p.message)).toEqual([
      "packs.transport is 'api' but worker token configuration is missing: set security.jwt_secret (ATTUNE__SECURITY__JWT_SECRET) to the Attune API's JWT secret",
    ]);
    expect(packsTransportProblems(config('auto'), {}, 'api')[0]!.message).toMatch(/\/p\/.attune-packs-sentinel does not exist, so packs come from the Attune API, but ATTUNE_API_URL is missing/);
    expect(packsTransportProblems(config('volume', null), {}, 'volume')).toEqual([]);
  });
});
