/**
 * Execution output where Attune looks for it (issue 13, spec 06 §2–§4, §9): the real bundle
 * against PostgreSQL, RabbitMQ and the fake Attune API (test/support/fake-api.ts), which seals
 * streams and publishes files as the real API does.
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentTestEnv, pollUntil, TEST_JWT_SECRET, waitForRowStatus, type AgentProcess, type AgentTestEnv } from '../../support/agent';
import { startFakeApi, type FakeApi } from '../../support/fake-api';
import { byStream, LOGS_PACK, logFileSoFar, logRows, writeLogsPack } from '../../support/log-streams';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

let e: AgentTestEnv;
let api: FakeApi;
let agent: AgentProcess;
let workerId: number;
let artifactsRoot: string;

beforeAll(async () => {
  e = await createAgentTestEnv();
  await e.cp.installPack(writeLogsPack());
  api = await startFakeApi({ jwtSecret: TEST_JWT_SECRET, databaseUrl: e.db.url, artifactsDir: e.artifactsDir });
  artifactsRoot = realpathSync(e.artifactsDir);
  ({ agent, workerId } = await e.startAgent({
    name: e.uniqueName('e2e-logs'),
    env: { ATTUNE_API_URL: api.url, ATTUNE__ARTIFACTS__LOG_SEGMENT_MAX_BYTES: '65536', ATTUNE__ARTIFACTS__FLUSH_INTERVAL_MS: '500' },
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

async function run(action: string, opts: { parameters?: Record<string, unknown>; secrets?: Record<string, unknown>; timeoutSec?: number } = {}) {
  const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.${action}`, parameters: opts.parameters ?? {}, secrets: opts.secrets, timeoutSec: opts.timeoutSec ?? null });
  await e.cp.waitForCompletions([ex.id], 60_000);
  const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
  return { id: ex.id, row, result: row.result as Record<string, any> };
}

function fileOf(filePath: string): string {
  return readFileSync(join(e.artifactsDir, filePath), 'utf8');
}

describe('rows and files of a completed execution (spec 06 §9 items 1–3, 7, 8, 18)', () => {
  it('creates both log artifacts, versions and streams with upstream columns, writes the files and seals them', async () => {
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    expect(stdout).toMatchObject({
      ref: 'logs_t.a.stdout.log',
      scope: 'action',
      owner: 'logs_t.a',
      type: 'file_text',
      visibility: 'private',
      classification: 'runtime_log',
      content_type: 'text/plain',
      retention_policy: 'days',
      retention_limit: 7,
      name: 'logs_t.a stdout',
      description: "Captured stdout for action 'logs_t.a' (retention: Days 7)",
      version: 1,
      execution: String(r.id),
      created_by: 'worker',
      meta: { stream: 'stdout', execution_id: r.id },
      file_path: 'logs_t/a/stdout/log/v1.txt',
      object_key: null,
      backend: 'shared_file',
      max_unflushed_bytes: '65536',
      max_unflushed_milliseconds: '500',
      // Sealed by the (fake) API as the real one does (spec 06 §2.5).
      body_state: 'ready',
      size_bytes: '4',
      sha256: sha('out\n'),
      sealed: true,
      truncated: false,
      total_bytes: '4',
    });
    expect(stderr).toMatchObject({ ref: 'logs_t.a.stderr.log', name: 'logs_t.a stderr', meta: { stream: 'stderr', execution_id: r.id }, file_path: 'logs_t/a/stderr/log/v1.txt', size_bytes: '4' });
    expect(fileOf(stdout.file_path)).toBe('out\n');
    expect(fileOf(stderr.file_path)).toBe('err\n');
    expect(statSync(join(e.artifactsDir, stdout.file_path)).mode & 0o777).toBe(0o444); // the API's chmod at seal

    // result references the stderr log by its canonical path; never a stdout_log key (spec 06 §2.9).
    expect(r.result.stderr_log).toBe(`${artifactsRoot}/logs_t/a/stderr/log/v1.txt`);
    expect(r.result).not.toHaveProperty('stdout_log');
    expect(r.result).not.toHaveProperty('logs_incomplete');
    expect(r.result.stdout).toBe('out\n');

    // Exactly two seal requests with the worker token (spec 06 §9 item 8).
    const seals = api.requests.filter((q) => q.path === `/api/v1/internal/logs/${stdout.version_id}/seal` || q.path === `/api/v1/internal/logs/${stderr.version_id}/seal`);
    expect(seals).toHaveLength(2);
    for (const q of seals) {
      expect(q.method).toBe('POST');
      expect(q.query).toEqual({ truncated: 'false' });
      expect(q.headers.authorization).toMatch(/^Bearer /);
      expect(q.claims).toMatchObject({ token_type: 'worker', scope: 'internal_files', login: `worker:${workerId}`, metadata: { worker_id: String(workerId) } });
      expect(q.claims?.metadata.worker_instance).toMatch(UUID);
    }
  });

  it('numbers the next run v2 for both streams, and a silent stream still has its (empty) file', async () => {
    const r = await run('a');
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    expect([stdout.version, stderr.version]).toEqual([2, 2]);
    expect(stdout.file_path).toBe('logs_t/a/stdout/log/v2.txt');
    const q = await run('quiet');
    const rows = byStream(await logRows(e.cp, q.id));
    expect(fileOf(rows.stdout.file_path)).toBe('');
    expect(rows.stdout).toMatchObject({ body_state: 'ready', size_bytes: '0', sha256: sha(''), sealed: true });
    expect(q.result).not.toHaveProperty('stderr_log'); // blank stderr
  });

  it('gives two concurrent runs of one action distinct versions', async () => {
    const [x, y] = await Promise.all([e.submit(workerId, { actionRef: `${LOGS_PACK}.a` }), e.submit(workerId, { actionRef: `${LOGS_PACK}.a` })]);
    await e.cp.waitForCompletions([x!.id, y!.id], 60_000);
    const vx = byStream(await logRows(e.cp, x!.id)).stdout.version;
    const vy = byStream(await logRows(e.cp, y!.id)).stdout.version;
    expect(vx).not.toBe(vy);
  });

  it('applies the action retention override to the artifact on the next run (spec 06 §9 item 5)', async () => {
    await e.cp.query(`UPDATE action SET log_retention_policy = 'versions', log_retention_limit = 3 WHERE ref = $1`, [`${LOGS_PACK}.a`]);
    const r = await run('a');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    expect([stdout.retention_policy, stdout.retention_limit]).toEqual(['versions', 3]);
    await e.cp.query(`UPDATE action SET log_retention_policy = NULL, log_retention_limit = NULL WHERE ref = $1`, [`${LOGS_PACK}.a`]);
  });
});

describe('every terminal path seals what the action printed', () => {
  it('failed: stdout and stderr sealed, status failed', async () => {
    const r = await run('fail');
    expect(r.row.status).toBe('failed');
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    expect(fileOf(stdout.file_path)).toBe('partial output\n');
    expect(fileOf(stderr.file_path)).toBe('boom\n');
    expect([stdout.sealed, stderr.sealed, stderr.body_state]).toEqual([true, true, 'ready']);
    expect(r.result.stderr_log).toBe(`${artifactsRoot}/${stderr.file_path}`);
  });

  it('timeout: the output up to the kill is sealed', async () => {
    const r = await run('sleep', { timeoutSec: 1 });
    expect(r.row.status).toBe('timeout');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    expect(fileOf(stdout.file_path)).toBe('before sleep\n');
    expect(stdout).toMatchObject({ sealed: true, body_state: 'ready', size_bytes: String('before sleep\n'.length) });
  });

  it('cancelled: the output up to the cancel is sealed', async () => {
    const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.sleep` });
    await waitForRowStatus(e.cp, ex.id, ['running']);
    const rows = await pollUntil(async () => {
      const rs = await logRows(e.cp, ex.id);
      return rs.length === 2 && logFileSoFar(e.artifactsDir, byStream(rs).stdout.file_path) === 'before sleep\n' ? rs : undefined;
    }, 15_000, 'the first line in the stdout file');
    await e.cp.cancel(ex.id, workerId);
    const row = await waitForRowStatus(e.cp, ex.id);
    expect(row.status).toBe('cancelled');
    const after = byStream(await logRows(e.cp, ex.id));
    expect(after.stdout).toMatchObject({ version_id: byStream(rows).stdout.version_id, sealed: true, body_state: 'ready' });
  });
});

describe('live view (spec 06 §9 item 4)', () => {
  it('rows exist and the file grows while the action runs; sealed only at the end', async () => {
    const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.slow` });
    const during = await pollUntil(async () => {
      const rs = await logRows(e.cp, ex.id);
      if (rs.length !== 2) return undefined;
      const s = byStream(rs).stdout;
      return logFileSoFar(e.artifactsDir, s.file_path) === 'line one\n' ? s : undefined;
    }, 15_000, 'the first line while the action sleeps');
    expect(during).toMatchObject({ body_state: 'pending', sealed: false, size_bytes: null });
    expect((await e.cp.getExecution(ex.id))?.status).toBe('running');
    await e.cp.waitForCompletions([ex.id], 30_000);
    const end = byStream(await logRows(e.cp, ex.id)).stdout;
    expect(fileOf(end.file_path)).toBe('line one\nline two\n');
    expect(end).toMatchObject({ sealed: true, size_bytes: '18' });
  });
});

describe('secrets (issue 13: log streams redacted, also when split across pipe reads)', () => {
  it('writes the log streams of a secret execution with every secret value replaced', async () => {
    const secret = `CANARY-LOG-${Date.now()}-abcdef`;
    const r = await run('leak', { secrets: { token: secret } });
    expect(r.row.status).toBe('completed');
    const { stdout, stderr } = byStream(await logRows(e.cp, r.id));
    expect(fileOf(stdout.file_path)).toBe('token=[REDACTED] end\n');
    expect(fileOf(stderr.file_path)).toBe('err [REDACTED]\n');
    expect(JSON.stringify(await logRows(e.cp, r.id))).not.toContain(secret);
    expect(JSON.stringify(r.result)).not.toContain(secret);
    expect(stdout.sealed && stderr.sealed).toBe(true);
  });
});

describe('file artifacts (spec 06 §3.2, §9 items 20, 23)', () => {
  it('publishes a file the action wrote for its version and records the sizes', async () => {
    const ex = await e.cp.createExecution({ actionRef: `${LOGS_PACK}.report`, workerId });
    const art = await e.cp.query(
      `INSERT INTO artifact (ref, scope, owner, type, content_type) VALUES ('logs_t.report', 'action', 'logs_t.report', 'file_text', 'text/plain') RETURNING id`,
    );
    const artifactId = Number(art.rows[0]!.id);
    await e.cp.query(
      `INSERT INTO artifact_version (artifact, version, execution, content_type, body_state, object_key, file_path, created_by)
       VALUES ($1, 1, $2, 'text/plain', 'pending', $3, 'logs_t/report/v1.txt', 'api')`,
      [artifactId, ex.id, `artifacts/${artifactId}/uploads/00000000-0000-4000-8000-000000000001`],
    );
    await e.cp.dispatch(ex, workerId);
    await e.cp.waitForCompletions([ex.id], 30_000);
    expect((await e.cp.getExecution(ex.id))?.status).toBe('completed');
    const completes = api.requestsTo(/^\/api\/v1\/internal\/artifacts\/complete\//);
    expect(completes.map((q) => q.path)).toEqual(['/api/v1/internal/artifacts/complete/logs_t/report/v1.txt']);
    const v = (await e.cp.query(`SELECT body_state, size_bytes FROM artifact_version WHERE artifact = $1`, [artifactId])).rows[0];
    expect(v).toMatchObject({ body_state: 'ready', size_bytes: '5' });
    const a = (await e.cp.query(`SELECT size_bytes FROM artifact WHERE id = $1`, [artifactId])).rows[0];
    expect(a?.size_bytes).toBe('5');
  });
});

describe('the API down or slow never changes the status (issue 13)', () => {
  it('seal answered 500 → completed with logs_incomplete, sealed later by the background retry', async () => {
    api.inject({ path: /\/seal$/, status: 500, times: 2 });
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    expect(r.result.logs_incomplete).toBe(true);
    const ids = (await logRows(e.cp, r.id)).map((x) => x.version_id);
    await pollUntil(async () => {
      const rs = await logRows(e.cp, r.id);
      return rs.every((x) => x.sealed) ? rs : undefined;
    }, 20_000, 'the background seal retry');
    expect(ids).toHaveLength(2);
  });

  it('seal answered after 3 s → completed with logs_incomplete, without waiting for it', async () => {
    api.inject({ path: /\/seal$/, delayMs: 3000, times: 2 });
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    expect(r.result.logs_incomplete).toBe(true);
    expect(r.result.duration_ms).toBeLessThan(3000);
  });

  it('seal answered 401 once → the token is regenerated, the execution completes with sealed logs', async () => {
    api.inject({ path: /\/seal$/, status: 401, times: 1 });
    const r = await run('a');
    expect(r.row.status).toBe('completed');
    expect(r.result).not.toHaveProperty('logs_incomplete');
    expect((await logRows(e.cp, r.id)).every((x) => x.sealed)).toBe(true);
  });
});

describe('SIGTERM drain (issue 13)', () => {
  it('an execution finishing during the drain still gets sealed streams', async () => {
    const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.slow` });
    await waitForRowStatus(e.cp, ex.id, ['running']);
    const code = await agent.stop(30_000);
    expect(code).toBe(0);
    const row = await e.cp.getExecution(ex.id);
    expect(row?.status).toBe('completed');
    const { stdout } = byStream(await logRows(e.cp, ex.id));
    expect(stdout).toMatchObject({ sealed: true, size_bytes: '18' });
  });
});
