/**
 * The API pack transport through the real agent bundle (issue 15; spec 06 §6, spec 03 §1.1):
 * an agent with `packs.transport: api` and an EMPTY packs_base_dir gets every pinned release
 * from the fake pack-release endpoint, with real PostgreSQL and RabbitMQ.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGES } from '../../../src/mq/routing';
import {
  createAgentTestEnv,
  DEMO_PACK_DIR,
  envelope,
  pollUntil,
  TEST_JWT_SECRET,
  waitForRowStatus,
  type AgentProcess,
  type AgentTestEnv,
} from '../../support/agent';
import { addRelease, startFakePackReleaseApi, type FakePackReleaseApi } from '../../support/fake-api-pack-releases';
import { buildTarGz, sha256Hex, treeEntries, type TarEntry } from '../../support/pack-archive';

const PACK = 'demo_test';
let e: AgentTestEnv;
let api: FakePackReleaseApi;
let agent: AgentProcess;
let workerId: number;
let packsDir: string;
let releaseSeq = 0;
let startupRelease: { releaseId: number; digest: string };

/** A new release of the demo pack (its own digest), made active, served by the fake API. */
async function newRelease(extra: TarEntry[] = [], opts: { serve?: Buffer } = {}): Promise<{ releaseId: number; digest: string }> {
  releaseSeq++;
  const bytes = buildTarGz([...treeEntries(DEMO_PACK_DIR, PACK), { path: `${PACK}/release.txt`, body: `release ${releaseSeq}\n` }, ...extra]);
  const digest = sha256Hex(bytes);
  const pack = (await e.cp.query('SELECT id FROM pack WHERE ref = $1', [PACK])).rows[0]!;
  const row = (
    await e.cp.query(
      `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
       VALUES ($1, $2, $3, $4, $5, $6, '{}'::jsonb) RETURNING id`,
      [pack.id, PACK, `1.0.${releaseSeq}`, digest, `/nowhere/${digest}`, bytes.length],
    )
  ).rows[0]!;
  const releaseId = Number(row.id);
  await e.cp.query('UPDATE pack SET active_release = $2 WHERE id = $1', [pack.id, releaseId]);
  addRelease(api.state, releaseId, opts.serve ?? bytes, digest);
  return { releaseId, digest };
}

function releaseDirs(): string[] {
  const root = join(packsDir, '.releases', 'sha256');
  return existsSync(root) ? readdirSync(root).sort() : [];
}

async function runEcho(message: string, timeoutMs = 60_000): Promise<{ id: number; row: Record<string, any> }> {
  const ex = await e.submit(workerId, { actionRef: `${PACK}.echo`, parameters: { message } });
  const row = await waitForRowStatus(e.cp, ex.id, null, timeoutMs);
  return { id: ex.id, row };
}

function apiEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ATTUNE__PACKS__TRANSPORT: 'api',
    ATTUNE_API_URL: api.url,
    ATTUNE__PACKS_BASE_DIR: packsDir,
    ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '16',
    ...extra,
  };
}

beforeAll(async () => {
  e = await createAgentTestEnv();
  api = await startFakePackReleaseApi(TEST_JWT_SECRET);
  packsDir = join(e.workDir, 'agent-packs');
  mkdirSync(packsDir);
  startupRelease = await newRelease();
  ({ agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-apipacks'), env: apiEnv() }));
});

afterAll(async () => {
  try {
    if (agent?.isAlive()) await agent.stop();
  } finally {
    await api?.close();
    await e?.cleanup();
  }
});

describe('packs.transport api', () => {
  it('syncs the active release at start-up into upstream\'s cache layout and runs from it without another request', async () => {
    await agent.waitForLog('start-up pack sync finished', 30_000);
    expect(api.downloads(startupRelease.releaseId)).toBe(1);
    const dir = join(packsDir, '.releases', 'sha256', startupRelease.digest);
    expect(readFileSync(join(dir, '.attune-release-ready'), 'utf8')).toBe(startupRelease.digest);
    expect(existsSync(join(dir, 'pack', 'pack.yaml'))).toBe(true);
    const claims = api.state.requests[0]!.claims!;
    expect(claims).toMatchObject({ token_type: 'worker', scope: 'internal_files', metadata: { worker_id: String(workerId) } });

    const { row } = await runEcho('from-the-api');
    expect(row.status).toBe('completed');
    expect(JSON.stringify(row.result)).toContain('from-the-api');
    expect(api.state.requests).toHaveLength(1);
    // Tokens never reach the agent's logs.
    const token = (api.state.requests[0]!.authorization ?? '').replace(/^Bearer /, '');
    expect(token.length).toBeGreaterThan(100);
    expect(agent.stdout()).not.toContain(token.split('.')[2]);
  });

  it('fails an execution whose release archive was tampered with, with a clear error, and caches nothing', async () => {
    const r = await newRelease();
    api.state.faults.push({ kind: 'tamper' });
    const { id, row } = await runEcho('tampered');
    expect(row.status).toBe('failed');
    expect(row.result.error).toMatch(
      new RegExp(`^Failed to prepare execution context: Failed to materialize pinned release ${r.releaseId} for execution ${id}: Pack release ${r.releaseId} digest mismatch: expected ${r.digest}, got [0-9a-f]{64}$`),
    );
    expect(releaseDirs()).not.toContain(r.digest);
    expect(releaseDirs().filter((n) => n.startsWith('.'))).toEqual([]);
    await pollUntil(() => e.cp.completionsFor(id).length === 1, 10_000, 'the completion');
    expect(e.cp.completionsFor(id)[0]!.body.payload?.status).toBe('Failed');
  });

  it('refuses a malicious archive (symlink, ../ entry): the execution fails, no release is published', async () => {
    for (const bad of [
      { path: `${PACK}/actions/evil.sh`, type: 'SymbolicLink' as const, linkpath: '/etc/passwd' },
      { path: `${PACK}/../../outside.txt`, body: 'x' },
    ]) {
      const r = await newRelease([bad]);
      const { row } = await runEcho('malicious');
      expect(row.status).toBe('failed');
      expect(row.result.error).toMatch(/Failed to extract pack 'demo_test': Pack archive (contains forbidden entry type SymbolicLink|entry '.*' is not confined to the 'demo_test' directory)$/);
      expect(releaseDirs()).not.toContain(r.digest);
    }
    expect(existsSync(join(packsDir, '..', 'outside.txt'))).toBe(false);
  });

  it('16 concurrent executions of a new release make exactly one download', async () => {
    const r = await newRelease();
    api.state.faults.push({ kind: 'delay', ms: 1500 });
    const ids = await Promise.all(Array.from({ length: 16 }, (_, i) => e.submit(workerId, { actionRef: `${PACK}.echo`, parameters: { message: `c${i}` } }).then((x) => x.id)));
    await e.cp.waitForCompletions(ids, 90_000);
    for (const id of ids) expect((await e.cp.getExecution(id))!.status).toBe('completed');
    expect(api.downloads(r.releaseId)).toBe(1);
    expect(api.state.requests.filter((q) => q.releaseId === r.releaseId)).toHaveLength(1);
  });

  it('API answering 500: the execution stays scheduled, one error line, and runs once the API answers again', async () => {
    const r = await newRelease();
    api.state.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 503 }, { kind: 'close-mid-body' });
    const ex = await e.submit(workerId, { actionRef: `${PACK}.echo`, parameters: { message: 'after-outage' } });
    await pollUntil(() => api.state.requests.filter((q) => q.releaseId === r.releaseId).length >= 1, 15_000, 'the first archive request');
    expect((await e.cp.getExecution(ex.id))!.status).toBe('scheduled');
    const row = await waitForRowStatus(e.cp, ex.id, null, 60_000);
    expect(row.status).toBe('completed');
    expect(api.state.requests.filter((q) => q.releaseId === r.releaseId).map((q) => q.status)).toEqual([500, 503, 200, 200]);
    const errors = agent.findLogs((l) => l.executionId === ex.id && l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.error)).toMatch(/download returned 500 Internal Server Error/);
  });

  it('a slow API (10 s) delays the execution but it completes', async () => {
    const r = await newRelease();
    api.state.faults.push({ kind: 'delay', ms: 10_000 });
    const { row } = await runEcho('slow', 60_000);
    expect(row.status).toBe('completed');
    expect(api.downloads(r.releaseId)).toBe(1);
  });

  it('pack.registered makes the announced release local before its first execution', async () => {
    const r = await newRelease();
    const pack = (await e.cp.query('SELECT id FROM pack WHERE ref = $1', [PACK])).rows[0]!;
    await e.cp.publishRaw(
      'pack.registered',
      envelope('PackRegistered', { pack_id: Number(pack.id), pack_ref: PACK, version: 'x', runtime_names: ['shell'], release_id: r.releaseId, release_digest: r.digest }, 'api-service'),
      EXCHANGES.events,
    );
    await pollUntil(() => releaseDirs().includes(r.digest), 15_000, 'the announced release to be cached');
    expect(api.downloads(r.releaseId)).toBe(1);
    expect((await runEcho('registered')).row.status).toBe('completed');
    expect(api.downloads(r.releaseId)).toBe(1);
  });

  it('pack.deleted removes the listed release trees', async () => {
    const r = await newRelease();
    await runEcho('before-delete');
    expect(releaseDirs()).toContain(r.digest);
    const pack = (await e.cp.query('SELECT id FROM pack WHERE ref = $1', [PACK])).rows[0]!;
    // The API deletes the row before it announces the deletion; the agent's stale-delete guard
    // (spec 07 §3.1 step 3) ignores a PackDeleted whose ref still exists. Moving the row off the
    // ref stands in for the delete, so the later tests keep their pack.
    await e.cp.query('UPDATE pack SET ref = $2 WHERE id = $1', [pack.id, `${PACK}_moved`]);
    try {
      await e.cp.publishRaw(
        'pack.deleted',
        envelope('PackDeleted', { pack_id: Number(pack.id), pack_ref: PACK, release_digests: [r.digest] }, 'api-service'),
        EXCHANGES.events,
      );
      await pollUntil(() => !releaseDirs().includes(r.digest), 15_000, 'the release tree to be removed');
      expect(releaseDirs()).toContain(startupRelease.digest);
    } finally {
      await e.cp.query('UPDATE pack SET ref = $2 WHERE id = $1', [pack.id, PACK]);
    }
  });

  it('a restart with everything cached makes no request; the bound evicts releases nobody uses', async () => {
    expect((await runEcho('cache-the-active-release')).row.status).toBe('completed');
    await agent.stop();
    const before = api.state.requests.length;
    const big = (n: number): TarEntry => ({ path: `${PACK}/big.txt`, body: String(n).repeat(700_000) });
    ({ agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-apipacks2'), env: apiEnv({ ATTUNE__PACKS__CACHE_MAX_BYTES: String(1024 * 1024) }) }));
    await agent.waitForLog('start-up pack sync finished', 30_000);
    expect(agent.findLogs('start-up pack sync finished')[0]).toMatchObject({ synced: 0, alreadyLocal: 1, errors: 0 });
    expect(api.state.requests.length - before).toBe(0);
    const a = await newRelease([big(1)]);
    expect((await runEcho('big-a')).row.status).toBe('completed');
    const b = await newRelease([big(2)]);
    expect((await runEcho('big-b')).row.status).toBe('completed');
    await agent.waitForLog('pack release cache over its bound: unused releases evicted', 15_000);
    expect(releaseDirs()).not.toContain(a.digest);
    expect(releaseDirs()).toContain(b.digest);
  });
});

describe('packs.transport api configuration', () => {
  it('starts and serves when the API is unreachable, saying so once at start-up', async () => {
    const { unusedPort } = await import('../../support/amqp');
    const dead = `http://127.0.0.1:${await unusedPort()}`;
    const { agent: a } = await e.startAgent({ env: { ...apiEnv(), ATTUNE_API_URL: dead, ATTUNE__PACKS_BASE_DIR: join(e.workDir, 'unreachable-packs') } });
    try {
      const line = await a.waitForLog(/start-up pack sync incomplete/, 30_000);
      expect(line).toMatchObject({ level: 'warn', errors: 1, apiUrl: dead });
      const detail = a.findLogs('start-up sync of an active pack release failed')[0]!;
      expect(String(detail.error)).toMatch(/ECONNREFUSED/);
    } finally {
      await a.stop();
    }
  });

  it('refuses to start without ATTUNE_API_URL or with a blank jwt secret, naming what to set', async () => {
    const noUrl = e.spawnAgent({ env: { ...apiEnv(), ATTUNE_API_URL: undefined } as Record<string, string | undefined> });
    expect((await noUrl.exited).code).toBe(1);
    expect(noUrl.stderr()).toContain("packs.transport is 'api' but ATTUNE_API_URL is missing or empty");
    const noSecret = e.spawnAgent({ env: { ...apiEnv(), ATTUNE__SECURITY__JWT_SECRET: ' ', ATTUNE__SECURITY__ENABLE_AUTH: 'false' } });
    expect((await noSecret.exited).code).toBe(1);
    expect(noSecret.stderr()).toContain("packs.transport is 'api' but worker token configuration is missing");
    const auto = e.spawnAgent({ env: { ...apiEnv(), ATTUNE__PACKS__TRANSPORT: 'auto', ATTUNE_API_URL: undefined } as Record<string, string | undefined> });
    expect((await auto.exited).code).toBe(1);
    expect(auto.stderr()).toContain(".attune-packs-sentinel does not exist, so packs come from the Attune API, but ATTUNE_API_URL is missing or empty");
  });
});
