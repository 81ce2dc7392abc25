/**
 * `artifacts.transport: api` (issue 15, spec 06 §2.6, §3.2, §7): the real bundle against
 * PostgreSQL, RabbitMQ and the fake Attune API, which commits segments, seals them and takes
 * uploaded files as upstream's `internal_files.rs` does. No file of the worker's artifacts_dir
 * is visible to the API (the fake gets no artifactsDir), as in the chart's `object` mode.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, pollUntil, TEST_JWT_SECRET, type AgentProcess, type AgentTestEnv } from '../../support/agent';
import { startFakeApi, type FakeApi } from '../../support/fake-api';
import { byStream, LOGS_PACK, logRows, writeLogsPack } from '../../support/log-streams';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const SEGMENTS = /^\/api\/v1\/internal\/logs\/\d+\/segments\/\d+$/;

let e: AgentTestEnv;
let api: FakeApi;
let agent: AgentProcess;
let workerId: number;

beforeAll(async () => {
  e = await createAgentTestEnv();
  await e.cp.installPack(writeLogsPack());
  api = await startFakeApi({ jwtSecret: TEST_JWT_SECRET, databaseUrl: e.db.url });
  ({ agent, workerId } = await e.startAgent({
    name: e.uniqueName('e2e-objlogs'),
    env: { ATTUNE_API_URL: api.url, ATTUNE__ARTIFACTS__TRANSPORT: 'api', ATTUNE__ARTIFACTS__LOG_SEGMENT_MAX_BYTES: '1048576', ATTUNE__ARTIFACTS__FLUSH_INTERVAL_MS: '500' },
  }));
});

afterAll(async () => {
  try {
    if (agent?.isAlive()) await agent.stop();
  } finally {
    await api?.close();
    await e?.cleanup();
  }
});

async function run(action: string) {
  const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.${action}` });
  await e.cp.waitForCompletions([ex.id], 60_000);
  const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
  return { id: ex.id, row, result: row.result as Record<string, any> };
}

async function segmentsOf(versionId: string) {
  const res = await e.cp.query(
    `SELECT g.sequence, g.byte_start, g.byte_end, g.size_bytes, g.sha256, g.object_key, s.id AS stream
     FROM log_segment g JOIN log_stream s ON s.id = g.stream WHERE s.artifact_version = $1 ORDER BY g.sequence`,
    [versionId],
  );
  return res.rows as Record<string, string>[];
}

const putsFor = (versionId: string) => api.requestsTo(new RegExp(`^/api/v1/internal/logs/${versionId}/segments/\\d+$`));
const sealsFor = (versionId: string) => api.requestsTo(new RegExp(`^/api/v1/internal/logs/${versionId}/seal$`));

describe('object_segments log streams (spec 06 §9 items 3, 12, 13)', () => {
  it('uploads stdout as one segment, seals both streams, rows as upstream writes them, no local log file', async () => {
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    expect(r.result).not.toHaveProperty('logs_incomplete');
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    for (const [row, text] of [[stdout, 'out\n'], [stderr, 'err\n']] as const) {
      expect(row).toMatchObject({
        backend: 'object_segments',
        object_key: `artifacts/${row.artifact_id}/v${row.version}`,
        max_unflushed_bytes: '1048576',
        max_unflushed_milliseconds: '500',
        body_state: 'ready',
        sealed: true,
        truncated: false,
        total_bytes: String(text.length),
        size_bytes: String(text.length),
        sha256: sha(text),
      });
      const puts = putsFor(row.version_id);
      expect(puts.map((q) => [q.path.split('/').pop(), q.headers['content-type'], q.body?.toString(), q.status])).toEqual([['0', 'application/octet-stream', text, 201]]);
      expect(puts[0]?.claims).toMatchObject({ token_type: 'worker', scope: 'internal_files', metadata: { worker_id: String(workerId) } });
      expect(sealsFor(row.version_id).map((q) => q.query)).toEqual([{ truncated: 'false' }]);
      expect(await segmentsOf(row.version_id)).toMatchObject([{ sequence: '0', byte_start: '0', byte_end: String(text.length), sha256: sha(text) }]);
    }
    const pv = await e.cp.query(`SELECT provider_version FROM artifact_version WHERE id = $1`, [stdout.version_id]);
    expect(pv.rows[0]?.provider_version).toBe('segments:1');
    // stderr_log names the staging path as upstream does (spec 06 §10.7), but nothing is written there.
    expect(r.result.stderr_log).toMatch(/\/logs_t\/a\/stderr\/log\/v\d+\.txt$/);
    expect(existsSync(join(e.artifactsDir, 'logs_t'))).toBe(false);
  });

  it('a silent stream sends only the seal (size 0, the SHA-256 of nothing)', async () => {
    const r = await run('quiet');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    expect(putsFor(stdout.version_id)).toEqual([]);
    expect(sealsFor(stdout.version_id)).toHaveLength(1);
    expect(stdout).toMatchObject({ body_state: 'ready', size_bytes: '0', sha256: sha('') });
  });

  it('300 KiB at once → sequences 0, 1, 2 … of 64 KiB, 128 KiB, then the rest; the bytes equal the output', async () => {
    const r = await run('burst');
    expect(r.row.status).toBe('completed');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    const segs = await segmentsOf(stdout.version_id);
    expect(segs.map((s) => Number(s.sequence))).toEqual(segs.map((_, i) => i));
    expect(Number(segs[0]?.size_bytes)).toBe(65_536);
    expect(Number(segs[1]?.size_bytes)).toBe(131_072);
    expect(api.segmentBytes(segs[0]?.stream as string).equals(Buffer.alloc(307_200, 'y'))).toBe(true);
    expect(stdout).toMatchObject({ sealed: true, size_bytes: '307200', sha256: sha(Buffer.alloc(307_200, 'y')) });
  });

  it('output spread over 3 s → one segment per flush interval, not one at the end', async () => {
    const r = await run('slow');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    const puts = putsFor(stdout.version_id);
    expect(puts.map((q) => q.body?.toString())).toEqual(['line one\n', 'line two\n']);
    expect((puts[1]?.at ?? 0) - (puts[0]?.at ?? 0)).toBeGreaterThan(2_000);
  });
});

describe('runs cut short (timeout)', () => {
  it('a timed-out action: status timeout, what it printed uploaded and sealed, nothing left running', async () => {
    const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.sleep`, timeoutSec: 1 });
    await e.cp.waitForCompletions([ex.id], 60_000);
    const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
    expect(row.status).toBe('timeout');
    const { stdout } = byStream(await logRows(e.cp, ex.id));
    await pollUntil(async () => (byStream(await logRows(e.cp, ex.id)).stdout.sealed ? true : undefined), 10_000, 'the sealed stream');
    expect(api.segmentBytes((await segmentsOf(stdout.version_id))[0]?.stream as string).toString()).toBe('before sleep\n');
  });
});

describe('the API failing while actions run (issue 15: never blocks or fails an action)', () => {
  async function assertHealthyAfterwards(): Promise<void> {
    const ok = await run('a');
    expect(ok.row.status).toBe('completed');
    expect(ok.result).not.toHaveProperty('logs_incomplete');
    expect(byStream(await logRows(e.cp, ok.id)).stdout.sealed).toBe(true);
    const running = await e.cp.query(`SELECT id FROM execution WHERE status = 'running'`);
    expect(running.rows).toEqual([]);
  }

  it('segments answered 500 (every attempt) → completed with its exit status, logs_incomplete, stream left unsealed', async () => {
    api.inject({ method: 'PUT', path: SEGMENTS, status: 500, times: 10 });
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    expect(r.result).toMatchObject({ exit_code: 0, logs_incomplete: true, stdout: 'out\n' });
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    // Upstream's policy: five attempts of the same segment, then the stream is given up.
    const attempts = () => [...putsFor(stdout.version_id), ...putsFor(stderr.version_id)];
    await pollUntil(async () => (attempts().length >= 10 ? true : undefined), 15_000, 'five attempts of segment 0 per stream');
    await new Promise((res) => setTimeout(res, 1_000));
    expect(attempts().map((q) => [q.path.split('/').pop(), q.status])).toEqual(Array.from({ length: 10 }, () => ['0', 500]));
    expect(sealsFor(stdout.version_id)).toEqual([]);
    expect(byStream(await logRows(e.cp, r.id)).stdout).toMatchObject({ body_state: 'pending', sealed: false });
    const failed = await run('fail');
    expect(failed.row.status).toBe('failed');
    await assertHealthyAfterwards();
  });

  it('the API slow (10 s per request) → the execution completes without waiting; the logs are sealed later', async () => {
    // Both first segment PUTs hang 10 s: each attempt is cut at 10 s, the retry is an identical replay (200).
    api.inject({ method: 'PUT', path: SEGMENTS, delayMs: 10_000, times: 2 });
    const t0 = Date.now();
    const r = await run('a');
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(r.row.status).toBe('completed');
    expect(r.result.logs_incomplete).toBe(true);
    await assertHealthyAfterwards();
    const { stdout } = byStream(await logRows(e.cp, r.id));
    await pollUntil(async () => (byStream(await logRows(e.cp, r.id)).stdout.sealed ? true : undefined), 40_000, 'the background upload and seal');
    expect(api.segmentBytes((await segmentsOf(stdout.version_id))[0]?.stream as string).toString()).toBe('out\n');
  });

  it('connections closed mid-body → retried with the same sequence and bytes; the execution completes', async () => {
    const before = api.requestsTo(SEGMENTS).length;
    api.inject({ method: 'PUT', path: SEGMENTS, close: true, times: 2 });
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    await pollUntil(async () => (byStream(await logRows(e.cp, r.id)).stdout.sealed ? true : undefined), 20_000, 'the sealed stream');
    // Both injected closes were used; a background upload left by an earlier test of this file
    // may have taken one of them (seen once in CI), so ours got one or both.
    expect(api.requestsTo(SEGMENTS).slice(before).filter((q) => q.status === -1)).toHaveLength(2);
    const rows = byStream(await logRows(e.cp, r.id));
    const ours = [...putsFor(rows.stdout.version_id), ...putsFor(rows.stderr.version_id)];
    const closed = ours.filter((q) => q.status === -1);
    expect(closed.length).toBeGreaterThanOrEqual(1);
    expect(ours.every((q) => q.path.endsWith('/segments/0'))).toBe(true);
    // Every closed attempt was retried on the same sequence number and answered.
    for (const c of closed) expect(ours.some((q) => q.path === c.path && q.at > c.at && q.status >= 200 && q.status < 300)).toBe(true);
    await assertHealthyAfterwards();
  });
});

describe('file artifacts over the API (spec 06 §3.2, §9 items 21–23)', () => {
  async function allocate(executionId: number): Promise<number> {
    const art = await e.cp.query(
      `INSERT INTO artifact (ref, scope, owner, type, content_type) VALUES ('logs_t.report', 'action', 'logs_t.report', 'file_text', 'text/plain') RETURNING id`,
    );
    const artifactId = Number(art.rows[0]!.id);
    await e.cp.query(
      `INSERT INTO artifact_version (artifact, version, execution, content_type, body_state, object_key, file_path, created_by)
       VALUES ($1, 1, $2, 'text/plain', 'pending', $3, 'logs_t/report/v1.txt', 'api')`,
      [artifactId, executionId, `artifacts/${artifactId}/uploads/00000000-0000-4000-8000-000000000002`],
    );
    return artifactId;
  }

  it('uploads the staged file (PUT /internal/files with x-attune-sha256), then completes it; sizes recorded', async () => {
    const ex = await e.cp.createExecution({ actionRef: `${LOGS_PACK}.report`, workerId });
    const artifactId = await allocate(ex.id);
    await e.cp.dispatch(ex, workerId);
    await e.cp.waitForCompletions([ex.id], 30_000);
    expect((await e.cp.getExecution(ex.id))?.status).toBe('completed');
    const puts = api.requestsTo(/^\/api\/v1\/internal\/files\//);
    expect(puts.map((q) => [q.method, q.path, q.headers['x-attune-sha256'], q.headers['content-type'], q.headers['content-length'], q.body?.toString(), q.status])).toEqual([
      ['PUT', '/api/v1/internal/files/logs_t/report/v1.txt', sha('hello'), 'text/plain', '5', 'hello', 201],
    ]);
    const completes = api.requestsTo(/^\/api\/v1\/internal\/artifacts\/complete\//);
    expect(completes.map((q) => q.path)).toEqual(['/api/v1/internal/artifacts/complete/logs_t/report/v1.txt']);
    expect(completes[0]!.at).toBeGreaterThanOrEqual(puts[0]!.at);
    const v = (await e.cp.query(`SELECT body_state, size_bytes, sha256 FROM artifact_version WHERE artifact = $1`, [artifactId])).rows[0];
    expect(v).toMatchObject({ body_state: 'ready', size_bytes: '5', sha256: sha('hello') });
    expect((await e.cp.query(`SELECT size_bytes FROM artifact WHERE id = $1`, [artifactId])).rows[0]?.size_bytes).toBe('5');
    expect(readdirSync(join(e.artifactsDir, 'logs_t', 'report'))).toEqual(['v1.txt']); // staging copy stays (spec 06 §10.9)
  });

  it('upload answered 500 → a warning, the version stays pending, the execution still completes', async () => {
    await e.cp.query(`DELETE FROM artifact WHERE ref = 'logs_t.report'`);
    api.inject({ method: 'PUT', path: /^\/api\/v1\/internal\/files\//, status: 500 });
    const ex = await e.cp.createExecution({ actionRef: `${LOGS_PACK}.report`, workerId });
    const artifactId = await allocate(ex.id);
    await e.cp.dispatch(ex, workerId);
    await e.cp.waitForCompletions([ex.id], 30_000);
    expect((await e.cp.getExecution(ex.id))?.status).toBe('completed');
    const v = (await e.cp.query(`SELECT body_state, size_bytes FROM artifact_version WHERE artifact = $1`, [artifactId])).rows[0];
    expect(v).toMatchObject({ body_state: 'pending', size_bytes: null });
    await pollUntil(async () => (agent.findLogs(/Failed to copy local artifact file to api transport/).length > 0 ? true : undefined), 5_000, 'the warning');
  });
});

describe('artifacts.transport api configuration (spec 06 §8)', () => {
  it('refuses to start without ATTUNE_API_URL or with a blank jwt secret, naming what to set', async () => {
    const env = { ATTUNE__ARTIFACTS__TRANSPORT: 'api' };
    const noUrl = e.spawnAgent({ env: { ...env, ATTUNE_API_URL: undefined } });
    expect((await noUrl.exited).code).toBe(1);
    expect(noUrl.stderr()).toContain("artifacts.transport is 'api' but ATTUNE_API_URL is missing or empty");
    const noSecret = e.spawnAgent({ env: { ...env, ATTUNE_API_URL: api.url, ATTUNE__SECURITY__JWT_SECRET: ' ', ATTUNE__SECURITY__ENABLE_AUTH: 'false' } });
    expect((await noSecret.exited).code).toBe(1);
    expect(noSecret.stderr()).toContain("artifacts.transport is 'api' but worker token configuration is missing");
  });
});

describe('the upload bound reached (issue 15: the pipe is always drained)', () => {
  it('a slow API and a chatty action: the action is not slowed, the stream is an exact prefix sealed truncated, logs_incomplete', async () => {
    const small = await e.startAgent({
      name: e.uniqueName('e2e-objbound'),
      env: {
        ATTUNE_API_URL: api.url,
        ATTUNE__ARTIFACTS__TRANSPORT: 'api',
        ATTUNE__ARTIFACTS__LOG_SEGMENT_INITIAL_BYTES: '1024',
        ATTUNE__ARTIFACTS__LOG_SEGMENT_MAX_BYTES: '4096',
        ATTUNE__ARTIFACTS__LOG_FINALIZATION_TIMEOUT_MS: '3000',
      },
    });
    try {
      api.inject({ method: 'PUT', path: SEGMENTS, delayMs: 1_500, times: 1 });
      const ex = await e.submit(small.workerId, { actionRef: `${LOGS_PACK}.burst` });
      await e.cp.waitForCompletions([ex.id], 60_000);
      const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
      expect(row.status).toBe('completed');
      expect(row.result).toMatchObject({ exit_code: 0, logs_incomplete: true });
      expect(row.result.duration_ms).toBeLessThan(3_000);
      const { stdout } = byStream(await logRows(e.cp, ex.id));
      const size = Number(stdout.size_bytes);
      expect(stdout).toMatchObject({ sealed: true, truncated: true, body_state: 'ready' });
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(1024 + 4096);
      const segs = await segmentsOf(stdout.version_id);
      expect(api.segmentBytes(segs[0]?.stream as string).equals(Buffer.alloc(size, 'y'))).toBe(true);
      expect(small.agent.findLogs(/log segments could not all be uploaded/)).toHaveLength(1);
    } finally {
      await small.agent.stop();
    }
  });
});

describe('truncation and the delayed mirror over the API (spec 06 §2.8, §4.4; §9 items 17, 26)', () => {
  let other: AgentProcess;
  let otherId: number;

  beforeAll(async () => {
    ({ agent: other, workerId: otherId } = await e.startAgent({
      name: e.uniqueName('e2e-objmirror'),
      env: { ATTUNE_API_URL: api.url, ATTUNE__ARTIFACTS__TRANSPORT: 'api', ATTUNE__WORKER__MAX_STDOUT_BYTES: '1024', ATTUNE__LOG__MIRROR_RUNTIME_STDOUT_TO_STDIO: 'true' },
    }));
  });
  afterAll(async () => {
    if (other?.isAlive()) await other.stop();
  });

  const runOn = async (action: string) => {
    const ex = await e.submit(otherId, { actionRef: `${LOGS_PACK}.${action}` });
    await e.cp.waitForCompletions([ex.id], 60_000);
    return { id: ex.id, row: (await e.cp.getExecution(ex.id)) as Record<string, any> };
  };

  it('uploads 896 data bytes plus the notice and seals with truncated=true', async () => {
    const r = await runOn('big');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    const segs = await segmentsOf(stdout.version_id);
    expect(api.segmentBytes(segs[0]?.stream as string).toString()).toBe(`${'x'.repeat(896)}\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n`);
    expect(sealsFor(stdout.version_id).map((q) => q.query)).toEqual([{ truncated: 'true' }]);
    expect(stdout).toMatchObject({ sealed: true, truncated: true });
  });

  it('secret outputs: nothing live, one redacted record after the run, from the bytes kept in memory (no local file)', async () => {
    const r = await runOn('secret_out');
    expect(r.row.status).toBe('completed');
    await new Promise((res) => setTimeout(res, 200));
    const records = other.logs.filter((l) => l.event === 'attune.runtime_log' && l.execution_id === r.id);
    expect(records.map((x) => [x.body_type, x.body])).toEqual([['json', { token: '[REDACTED]', n: 1 }]]);
    expect(other.stdout()).not.toContain('OUT-SECRET-42');
  });
});
