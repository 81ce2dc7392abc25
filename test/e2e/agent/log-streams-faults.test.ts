/**
 * Log streams under bad conditions (issue 13): no API at all, an artifacts volume that is
 * read-only or full (a real 64 KiB tmpfs: these tests need root, as the CI container has),
 * truncation at `worker.max_stdout_bytes` (spec 06 §2.8), output mirroring (spec 06 §4) and
 * the shutdown-timeout (abandoned) path.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../../support/amqp';
import { createAgentTestEnv, pollUntil, TEST_JWT_SECRET, waitForRowStatus, type AgentProcess, type AgentTestEnv } from '../../support/agent';
import { startFakeApi, type FakeApi } from '../../support/fake-api';
import { byStream, LOGS_PACK, logFileSoFar, logRows, writeLogsPack } from '../../support/log-streams';

let e: AgentTestEnv;
const apis: FakeApi[] = [];
let tmpfsDir: string | null = null;

beforeAll(async () => {
  e = await createAgentTestEnv();
  await e.cp.installPack(writeLogsPack());
});

afterAll(async () => {
  for (const a of apis) await a.close().catch(() => undefined);
  if (tmpfsDir) {
    try {
      execFileSync('umount', [tmpfsDir]);
    } catch {
      // agent still holding it: lazy unmount
      execFileSync('umount', ['-l', tmpfsDir]);
    }
  }
  await e?.cleanup();
});

async function api(artifactsDir: string): Promise<FakeApi> {
  const a = await startFakeApi({ jwtSecret: TEST_JWT_SECRET, databaseUrl: e.db.url, artifactsDir });
  apis.push(a);
  return a;
}

async function run(workerId: number, action: string, opts: { secrets?: Record<string, unknown> } = {}) {
  const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.${action}`, secrets: opts.secrets });
  await e.cp.waitForCompletions([ex.id], 60_000);
  const row = (await e.cp.getExecution(ex.id)) as Record<string, any>;
  return { id: ex.id, row, result: row.result as Record<string, any> };
}

describe('no Attune API reachable', () => {
  it('completes executions truthfully with logs_incomplete and leaves the streams pending (unsealed)', async () => {
    const port = await unusedPort();
    const { agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-noapi'), env: { ATTUNE_API_URL: `http://127.0.0.1:${port}` } });
    const r = await run(workerId, 'a');
    expect(r.row.status).toBe('completed');
    expect(r.result).toMatchObject({ succeeded: true, exit_code: 0, logs_incomplete: true, stdout: 'out\n' });
    const { stdout } = byStream(await logRows(e.cp, r.id));
    expect(stdout).toMatchObject({ body_state: 'pending', sealed: false });
    expect(readFileSync(join(e.artifactsDir, stdout.file_path), 'utf8')).toBe('out\n');
    expect(agent.findLogs(/sealing log streams through the Attune API failed/)).toHaveLength(1); // once per outage, not per stream
    // A failing exit stays failed (not masked, not changed).
    expect((await run(workerId, 'fail')).row.status).toBe('failed');
    expect(await agent.stop()).toBe(0);
  });
});

describe('runs that never start a process, and a crashed agent', () => {
  it('entrypoint outside the pack: failed before spawn, versions stay pending and no seal is requested (spec 06 §9 item 6)', async () => {
    const fake = await api(e.artifactsDir);
    const { agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-nostart'), env: { ATTUNE_API_URL: fake.url } });
    const r = await run(workerId, 'escape');
    expect(String(r.result.error)).toContain('resolves outside the pack');
    expect(r.row.status).toBe('failed');
    const rows = await logRows(e.cp, r.id);
    expect(rows.map((x) => [x.body_state, x.sealed])).toEqual([
      ['pending', false],
      ['pending', false],
    ]);
    expect(fake.requestsTo(/\/seal$/)).toEqual([]);
    expect(r.result).not.toHaveProperty('logs_incomplete');
    expect(await agent.stop()).toBe(0);
  });

  it('agent killed mid-run: the next start records abandoned and seals what was printed, as truncated', async () => {
    const fake = await api(e.artifactsDir);
    const name = e.uniqueName('e2e-crash');
    const first = await e.startAgent({ name, env: { ATTUNE_API_URL: fake.url } });
    const ex = await e.submit(first.workerId, { actionRef: `${LOGS_PACK}.orphan` });
    const stdout = await pollUntil(async () => {
      const rs = await logRows(e.cp, ex.id);
      if (rs.length !== 2) return undefined;
      const s = byStream(rs).stdout;
      return /^pid \d+\n$/.test(logFileSoFar(e.artifactsDir, s.file_path) ?? '') ? s : undefined;
    }, 15_000, 'the orphan action printing its pid');
    const pid = Number(/pid (\d+)/.exec(readFileSync(join(e.artifactsDir, stdout.file_path), 'utf8'))?.[1]);
    first.agent.kill();
    await first.agent.exited;
    try {
      process.kill(-pid, 'SIGKILL'); // the action's own process group outlived the agent
    } catch {
      // already gone
    }
    const second = await e.startAgent({ name, env: { ATTUNE_API_URL: fake.url } });
    const row = await waitForRowStatus(e.cp, ex.id, ['abandoned']);
    expect(row.status).toBe('abandoned');
    const after = await pollUntil(async () => {
      const s = byStream(await logRows(e.cp, ex.id)).stdout;
      return s.sealed ? s : undefined;
    }, 10_000, 'the leftover stream sealed');
    expect(after).toMatchObject({ truncated: true, body_state: 'ready', size_bytes: String(`pid ${pid}\n`.length) });
    expect(await second.agent.stop()).toBe(0);
  });
});

describe('truncation and mirroring (spec 06 §2.8, §4; §9 items 17, 24)', () => {
  let agent: AgentProcess;
  let workerId: number;
  let fake: FakeApi;

  beforeAll(async () => {
    fake = await api(e.artifactsDir);
    ({ agent, workerId } = await e.startAgent({
      name: e.uniqueName('e2e-mirror'),
      env: {
        ATTUNE_API_URL: fake.url,
        ATTUNE__WORKER__MAX_STDOUT_BYTES: '1024',
        ATTUNE__LOG__MIRROR_RUNTIME_STDOUT_TO_STDIO: 'true',
        ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '1',
      },
    }));
  });

  const mirrored = (id: number) => agent.logs.filter((l) => l.event === 'attune.runtime_log' && l.execution_id === id);

  it('writes 896 data bytes plus the notice into the stream and seals it truncated', async () => {
    const r = await run(workerId, 'big');
    const { stdout } = byStream(await logRows(e.cp, r.id));
    const bytes = readFileSync(join(e.artifactsDir, stdout.file_path), 'utf8');
    expect(bytes).toBe(`${'x'.repeat(896)}\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n`);
    expect(stdout).toMatchObject({ truncated: true, sealed: true, size_bytes: String(896 + 49) });
    expect(fake.requestsTo(new RegExp(`/logs/${stdout.version_id}/seal$`))[0]?.query).toEqual({ truncated: 'true' });
    const recs = mirrored(r.id);
    expect(recs.at(-1)).toMatchObject({ truncated: true, body: 'Runtime log mirror reached its configured byte limit' });
  });

  it('mirrors stdout lines as NDJSON records, nothing for stderr when only stdout mirroring is on', async () => {
    const r = await run(workerId, 'json');
    await new Promise((res) => setTimeout(res, 200));
    const recs = mirrored(r.id);
    expect(recs.map((x) => [x.source_stream, x.body_type, x.body, x.byte_start, x.byte_end])).toEqual([
      ['stdout', 'json', { a: 1 }, 0, 7],
      ['stdout', 'text', 'plain', 8, 13],
    ]);
    expect(recs[0]).toMatchObject({ source_kind: 'execution', action_ref: 'logs_t.json', pack_ref: 'logs_t', worker_id: workerId, fragment_index: 0, continued: false, truncated: false });
    const a = await run(workerId, 'a');
    await new Promise((res) => setTimeout(res, 200));
    expect(mirrored(a.id).map((x) => x.source_stream)).toEqual(['stdout']);
  });

  it('mirrors a secret execution with the secret replaced, also when split across pipe reads', async () => {
    const secret = `CANARY-MIRROR-${Date.now()}-xyz`;
    const r = await run(workerId, 'leak', { secrets: { token: secret } });
    await new Promise((res) => setTimeout(res, 200));
    expect(mirrored(r.id).map((x) => x.body)).toEqual(['token=[REDACTED] end']);
    expect(agent.stdout()).not.toContain(secret);
  });

  it('secret outputs: nothing live, one redacted record after the run (spec 06 §9 item 26)', async () => {
    const r = await run(workerId, 'secret_out');
    expect(r.row.status).toBe('completed');
    await new Promise((res) => setTimeout(res, 200));
    expect(mirrored(r.id).map((x) => [x.body_type, x.body])).toEqual([['json', { token: '[REDACTED]', n: 1 }]]);
    expect(agent.stdout()).not.toContain('OUT-SECRET-42');
  });

  it('shutdown timeout: the abandoned execution still gets sealed streams', async () => {
    const ex = await e.submit(workerId, { actionRef: `${LOGS_PACK}.sleep` });
    await waitForRowStatus(e.cp, ex.id, ['running']);
    await new Promise((res) => setTimeout(res, 300));
    expect(await agent.stop(60_000)).toBe(0);
    expect((await e.cp.getExecution(ex.id))?.status).toBe('abandoned');
    const { stdout } = byStream(await logRows(e.cp, ex.id));
    expect(stdout).toMatchObject({ sealed: true, body_state: 'ready' });
    expect(readFileSync(join(e.artifactsDir, stdout.file_path), 'utf8')).toBe('before sleep\n');
  });
});

describe('artifacts volume read-only or full (a 64 KiB tmpfs)', () => {
  let agent: AgentProcess;
  let workerId: number;

  beforeAll(async () => {
    tmpfsDir = join(e.workDir, 'small-artifacts');
    mkdirSync(tmpfsDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', tmpfsDir]);
    const fake = await api(tmpfsDir);
    ({ agent, workerId } = await e.startAgent({ name: e.uniqueName('e2e-vol'), env: { ATTUNE_API_URL: fake.url, ATTUNE__ARTIFACTS_DIR: tmpfsDir } }));
  });

  it('read-only: one clear log line, truthful status, no half-created rows, the agent keeps serving', async () => {
    execFileSync('mount', ['-o', 'remount,ro', tmpfsDir as string]);
    try {
      const r = await run(workerId, 'a');
      expect(r.row.status).toBe('completed');
      expect(r.result).toMatchObject({ stdout: 'out\n', logs_incomplete: true });
      expect(await logRows(e.cp, r.id)).toEqual([]);
      const lines = agent.findLogs(/cannot create log stream files in artifacts_dir/);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ code: 'EROFS', executionId: r.id });
      expect((await run(workerId, 'fail')).row.status).toBe('failed');
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', tmpfsDir as string]);
    }
    const ok = await run(workerId, 'a');
    expect(ok.result).not.toHaveProperty('logs_incomplete');
  });

  it('full: the write fails, the status stays truthful, the stream is sealed as truncated', async () => {
    const filler = join(tmpfsDir as string, 'filler');
    try {
      execFileSync('sh', ['-c', `head -c 1048576 /dev/zero > ${filler} 2>/dev/null || true`]);
      const r = await run(workerId, 'a');
      expect(r.row.status).toBe('completed');
      expect(r.result.logs_incomplete).toBe(true);
      const { stdout } = byStream(await logRows(e.cp, r.id));
      expect(stdout).toMatchObject({ sealed: true, truncated: true });
      expect(agent.findLogs(/writing the log stream file failed/).length).toBeGreaterThan(0);
      expect((await e.cp.getExecution(r.id))?.status).toBe('completed');
    } finally {
      rmSync(filler, { force: true });
    }
    writeFileSync(join(tmpfsDir as string, 'probe'), 'ok'); // space is back
    expect((await run(workerId, 'a')).result).not.toHaveProperty('logs_incomplete');
    expect(await agent.stop()).toBe(0);
  });
});
