/**
 * The pack-test consumer against the real schema (scripts/sql incl. 0010): rows written to
 * pack_install / pack_test_execution as upstream's handle_pack_test does (spec 07 §1.2–§1.4).
 * Pack tests publish nothing on MQ (upstream), so only rows and the ack decision are checked.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureChildBaseEnv } from '../../../src/execution/child-env';
import { createLocalPackCache } from '../../../src/worker/pack-cache';
import { hashCandidateToken, PackTests } from '../../../src/worker/pack-tests';
import { createCapturingLogger } from '../../support/amqp';
import { createTestDatabase, type TestDatabase } from '../../support/db';
import {
  deliveryOf,
  envelopeOf,
  insertPackInstall,
  insertPackWithRelease,
  makeConfig,
  makeWorkDirs,
  writePackDir,
  writeReleasePack,
  type WorkDirs,
} from '../../support/pack-fixtures';

const WORKER_ID = 7;
const CANARY = 'pack-test-canary-5f1e';
let db: TestDatabase;
let dirs: WorkDirs;
let tests: PackTests;
const cap = createCapturingLogger();

const testing = (extra: Record<string, unknown> = {}) => ({
  enabled: true,
  discovery: { method: 'directory', path: 'tests' },
  runners: { shell: { type: 'script', entry_point: 'tests/run.sh', timeout: 30 } },
  ...extra,
});
const script = (counts: string, exit: number) => `#!/bin/sh\nenv | sort\nprintf '${counts}'\nexit ${exit}\n`;

async function setupPack(ref: string, manifestExtra: Record<string, unknown>, files: Record<string, string>) {
  const manifest = { ref, label: ref, version: '1.0.0', ...manifestExtra };
  const { packDir, digest } = writeReleasePack(dirs.packsDir, manifest, files);
  const ids = await insertPackWithRelease(db.pool, ref, '1.0.0', digest, packDir);
  return { ...ids, packDir, digest };
}

function request(installId: number, packRef: string, extra: Record<string, unknown> = {}) {
  return deliveryOf(envelopeOf('PackTestRequested', { pack_install_id: installId, pack_ref: packRef, pack_version: '1.0.0', candidate_path: null, trigger_reason: 'install', required_runtimes: ['shell'], ...extra }));
}

/** Running (not a zombie waiting for a reaper that may not exist in this container). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

async function install(id: number) {
  return (await db.pool.query('SELECT * FROM pack_install WHERE id = $1', [id])).rows[0] as Record<string, any>;
}

beforeAll(async () => {
  process.env.PACK_TEST_CANARY = CANARY;
  db = await createTestDatabase();
  dirs = makeWorkDirs();
  const config = makeConfig(dirs, db.url);
  await db.pool.query(`INSERT INTO worker (id, name, worker_type, worker_role) VALUES ($1, 'pack-tests-worker', 'container', 'action')`, [WORKER_ID]);
  tests = new PackTests({ db: db.pool, config, env: {}, baseEnv: captureChildBaseEnv(process.env, []), workerId: WORKER_ID, packCache: createLocalPackCache({ packsBaseDir: dirs.packsDir, transport: 'volume' }), log: cap.log });
});

afterAll(async () => {
  delete process.env.PACK_TEST_CANARY;
  await db?.drop();
  if (dirs) rmSync(dirs.root, { recursive: true, force: true });
});

describe('pack tests that pass and fail (spec 07 §1.3–§1.4)', () => {
  it('passing suite: test row, install activating with camelCase result, hash cleared, finished_at NULL', async () => {
    const p = await setupPack('passing', { testing: testing() }, { 'tests/run.sh': script('Total Tests: 3\\nPassed: 3\\nFailed: 0\\n', 0) });
    const id = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'passing'))).toBe('ack');

    const row = await install(id);
    expect(row).toMatchObject({ status: 'activating', error_message: null, candidate_access_token_hash: null, finished_at: null });
    const te = (await db.pool.query('SELECT * FROM pack_test_execution WHERE id = $1', [row.test_execution_id])).rows[0] as Record<string, any>;
    expect(te).toMatchObject({ pack_id: String(p.packId), pack_version: '1.0.0', trigger_reason: 'install', total_tests: 3, passed: 3, failed: 0, skipped: 0, pass_rate: 1 });
    expect(row.test_result).toEqual(te.result);
    expect(te.result).toMatchObject({ packRef: 'passing', packVersion: '1.0.0', status: 'passed', totalTests: 3, passed: 3, passRate: 1 });
    expect(te.result.testSuites[0]).toMatchObject({ name: 'shell', runnerType: 'script', total: 3, passed: 3 });
    const tc = te.result.testSuites[0].testCases[0];
    expect(tc).toMatchObject({ name: 'shell_suite', status: 'passed', errorMessage: null, stderr: null });
    // spec 07 §1.3: the child sees a cleared environment; no service variable leaks in.
    expect(tc.stdout).toContain(`HOME=${p.packDir}`);
    expect(tc.stdout).toContain('LC_ALL=C.UTF-8');
    expect(tc.stdout).toContain('PATH=/usr/local/bin:/usr/bin:/bin');
    expect(tc.stdout).not.toContain(CANARY);
    expect(tc.stdout).not.toContain('ATTUNE');
  });

  it('failing suite (exit 1, "Failed: 0"): clamped to one failure, install failed with upstream message', async () => {
    const p = await setupPack('failing', { testing: testing() }, { 'tests/run.sh': script('Total Tests: 3\\nPassed: 3\\nFailed: 0\\n', 1) });
    const id = await insertPackInstall(db.pool, { packRef: 'failing', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'failing'))).toBe('ack');
    const row = await install(id);
    expect(row.status).toBe('failed');
    expect(row.error_message).toBe('Pack tests did not pass (2/3 passed)');
    expect(row.finished_at).not.toBeNull();
    expect(row.test_result).toMatchObject({ status: 'failed', totalTests: 3, passed: 2, failed: 1 });
    expect(row.test_result.testSuites[0].testCases[0]).toMatchObject({ status: 'failed', errorMessage: 'Exit code: 1' });
    const te = (await db.pool.query('SELECT failed, pass_rate FROM pack_test_execution WHERE id = $1', [row.test_execution_id])).rows[0];
    expect(te).toEqual({ failed: 1, pass_rate: 2 / 3 });
  });

  it('on_failure: warn accepts a failing run; a suite timeout is an error case, its process group killed', async () => {
    const p = await setupPack('warned', { testing: testing({ on_failure: 'warn', runners: { slow: { type: 'script', entry_point: 't.sh', timeout: 1 } } }) }, {
      't.sh': '#!/bin/sh\nsleep 600 &\necho $! > child.pid\nwait\n',
    });
    const id = await insertPackInstall(db.pool, { packRef: 'warned', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID, triggerReason: 'manual' });
    expect(await tests.handle(request(id, 'warned', { trigger_reason: 'manual' }))).toBe('ack');
    const row = await install(id);
    expect(row.status).toBe('succeeded');
    expect(row.test_result.testSuites[0].testCases[0]).toMatchObject({ name: 'slow_execution', status: 'error', errorMessage: 'Test execution timed out after 1 seconds' });
    const grandchild = Number(readFileSync(join(p.packDir, 'child.pid'), 'utf8').trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
  });

  it('a brand-new pack (pack_id NULL) gets no test row but its install finishes', async () => {
    const { packDir } = writeReleasePack(dirs.packsDir, { ref: 'fresh', version: '1.0.0', testing: testing() }, { 'tests/run.sh': script('Total Tests: 1\\nPassed: 1\\n', 0) });
    const digest = packDir.split('/').slice(-2)[0] as string;
    const ids = await insertPackWithRelease(db.pool, 'fresh', '1.0.0', digest, packDir);
    const id = await insertPackInstall(db.pool, { packRef: 'fresh', packVersion: '1.0.0', packId: null, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'fresh'))).toBe('ack');
    const row = await install(id);
    expect(row).toMatchObject({ status: 'activating', test_execution_id: null });
    expect(row.test_result).toMatchObject({ status: 'passed' });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM pack_test_execution WHERE pack_id = $1', [ids.packId])).rows[0].n).toBe(0);
  });
});

describe('Python runners (spec 07 §1.7)', () => {
  it('a unittest runner runs in the coordinated core.python environment of the pack (pack_environment row)', async () => {
    const manifest = { ref: 'pyunit', label: 'pyunit', version: '1.0.0', testing: testing({ runners: { unit: { type: 'unittest', entry_point: 'tests/test_ok.py', timeout: 120 } } }) };
    const files = { 'tests/__init__.py': '', 'tests/test_ok.py': 'import sys, unittest\nclass T(unittest.TestCase):\n    def test_venv(self):\n        self.assertNotEqual(sys.prefix, sys.base_prefix)\n' };
    const p = await setupPack('pyunit', manifest, files);
    writePackDir(join(dirs.packsDir, 'pyunit'), manifest, files);
    const id = await insertPackInstall(db.pool, { packRef: 'pyunit', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'pyunit'))).toBe('ack');
    const row = await install(id);
    expect(row.status).toBe('activating');
    expect(row.test_result.testSuites[0]).toMatchObject({ name: 'unit', runnerType: 'unittest', failed: 0 });
    const env = (await db.pool.query("SELECT status, env_path FROM pack_environment WHERE pack_ref = 'pyunit' AND runtime_ref = 'core.python'")).rows[0];
    expect(env).toEqual({ status: 'ready', env_path: join(dirs.runtimeEnvsDir, 'pyunit', 'python') });
  });
});

describe('no tests, policy and manifest errors', () => {
  it('no testing key: manual → succeeded with finished_at; install → activating; no test row', async () => {
    const p = await setupPack('notests', {}, {});
    const a = await insertPackInstall(db.pool, { packRef: 'notests', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID, triggerReason: 'manual' });
    const b = await insertPackInstall(db.pool, { packRef: 'notests', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(a, 'notests', { trigger_reason: 'manual' }))).toBe('ack');
    expect(await tests.handle(request(b, 'notests'))).toBe('ack');
    expect(await install(a)).toMatchObject({ status: 'succeeded', test_execution_id: null, test_result: null });
    expect((await install(a)).finished_at).not.toBeNull();
    expect(await install(b)).toMatchObject({ status: 'activating', finished_at: null });
  });

  it('min_pass_rate 1.1 fails the install with the policy message', async () => {
    const p = await setupPack('policy', { testing: testing({ min_pass_rate: 1.1 }) }, { 'tests/run.sh': script('', 0) });
    const id = await insertPackInstall(db.pool, { packRef: 'policy', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'policy'))).toBe('ack');
    expect(await install(id)).toMatchObject({ status: 'failed', error_message: 'testing.min_pass_rate must be between 0.0 and 1.0', test_execution_id: null });
  });

  it('a testing section missing `runners` is an error: install failed with the text, delivery dead-lettered', async () => {
    const p = await setupPack('broken', { testing: { enabled: true, discovery: { method: 'x' } } }, {});
    const id = await insertPackInstall(db.pool, { packRef: 'broken', packVersion: '1.0.0', packId: p.packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'broken'))).toBe('reject');
    expect(await install(id)).toMatchObject({ status: 'failed', error_message: "Failed to parse test configuration for 'broken': testing: missing field `runners`" });
  });

  it('an active release whose files are not on the packs volume: pack.yaml not found', async () => {
    const digest = 'e'.repeat(64);
    const { packId } = await insertPackWithRelease(db.pool, 'nofiles', '1.0.0', digest, join(dirs.packsDir, '.releases', 'sha256', digest, 'pack'));
    const id = await insertPackInstall(db.pool, { packRef: 'nofiles', packVersion: '1.0.0', packId, assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'nofiles'))).toBe('ack');
    expect(await install(id)).toMatchObject({ status: 'failed', error_message: "pack.yaml not found for pack 'nofiles' on worker" });
  });

  it('a pack without an active release fails the install', async () => {
    await db.pool.query("INSERT INTO pack (ref, label, version) VALUES ('norelease', 'n', '1.0.0')");
    const id = await insertPackInstall(db.pool, { packRef: 'norelease', packVersion: '1.0.0', assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(id, 'norelease'))).toBe('ack');
    expect(await install(id)).toMatchObject({ status: 'failed', error_message: 'Pack has no active release' });
  });
});

describe('deliveries that do not match their install (spec 07 §1.2 steps 2–7)', () => {
  it('unknown install, not running, other worker: acked, rows untouched', async () => {
    expect(await tests.handle(request(99_999, 'passing'))).toBe('ack');
    const pending = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', status: 'pending', assignedWorkerId: WORKER_ID });
    const other = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', assignedWorkerId: WORKER_ID + 1 });
    expect(await tests.handle(request(pending, 'passing'))).toBe('ack');
    expect(await tests.handle(request(other, 'passing'))).toBe('ack');
    expect(await install(pending)).toMatchObject({ status: 'pending', error_message: null });
    expect(await install(other)).toMatchObject({ status: 'running', error_message: null });
  });

  it('a version mismatch fails the install; a candidate-mode mismatch too', async () => {
    const a = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '2.0.0', assignedWorkerId: WORKER_ID });
    expect(await tests.handle(request(a, 'passing'))).toBe('ack');
    expect(await install(a)).toMatchObject({ status: 'failed', error_message: 'Pack test delivery did not match its install record' });
    const b = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', assignedWorkerId: WORKER_ID, candidateAccessTokenHash: hashCandidateToken('t') });
    expect(await tests.handle(request(b, 'passing'))).toBe('ack');
    expect(await install(b)).toMatchObject({ status: 'failed', error_message: 'Pack test delivery did not match the claimed candidate mode' });
  });

  it('a wrong candidate token is acked and leaves the install running; the secret is never logged', async () => {
    const id = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', assignedWorkerId: WORKER_ID, candidateAccessTokenHash: hashCandidateToken('right-token') });
    const secret = 'wrong-token-9a8b7c';
    expect(await tests.handle(request(id, 'passing', { candidate_path: join(dirs.packsDir, `.pack-test-${id}`), candidate_access_token: secret }))).toBe('ack');
    expect(await install(id)).toMatchObject({ status: 'running', candidate_access_token_hash: hashCandidateToken('right-token') });
    expect(cap.text()).not.toContain(secret);
  });

  it('a staged volume candidate is tested, then its directory removed; a path elsewhere fails', async () => {
    const token = 'candidate-token-1';
    const id = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', assignedWorkerId: WORKER_ID, candidateAccessTokenHash: hashCandidateToken(token), triggerReason: 'update' });
    const staged = join(dirs.packsDir, `.pack-test-${id}`);
    writePackDir(staged, { ref: 'passing', version: '1.0.0', testing: testing() }, { 'tests/run.sh': script('Total Tests: 2\\nPassed: 2\\n', 0) });
    mkdirSync(join(dirs.runtimeEnvsDir, '.pack-test-attempts', String(id)), { recursive: true });
    expect(await tests.handle(request(id, 'passing', { candidate_path: staged, candidate_access_token: token, trigger_reason: 'update' }))).toBe('ack');
    expect(await install(id)).toMatchObject({ status: 'activating', candidate_access_token_hash: null });
    expect((await install(id)).test_result).toMatchObject({ totalTests: 2, passed: 2 });
    expect(existsSync(staged)).toBe(false);
    expect(existsSync(join(dirs.runtimeEnvsDir, '.pack-test-attempts', String(id)))).toBe(false);

    const id2 = await insertPackInstall(db.pool, { packRef: 'passing', packVersion: '1.0.0', assignedWorkerId: WORKER_ID, candidateAccessTokenHash: hashCandidateToken(token) });
    const elsewhere = join(dirs.root, 'elsewhere');
    writePackDir(elsewhere, { ref: 'passing', version: '1.0.0' });
    expect(await tests.handle(request(id2, 'passing', { candidate_path: elsewhere, candidate_access_token: token }))).toBe('ack');
    expect((await install(id2)).status).toBe('failed');
    expect((await install(id2)).error_message).toBe(`Pack test candidate path is outside the configured pack root: ${elsewhere}`);
    expect(existsSync(join(elsewhere, 'pack.yaml'))).toBe(true);
  });
});

describe('malformed pack test requests', () => {
  it.each([
    ['bad JSON', '{"message_type": "PackTestRequested", '],
    ['missing pack_install_id', envelopeOf('PackTestRequested', { pack_ref: 'passing', pack_version: '1.0.0', trigger_reason: 'install' })],
    ['`..` pack ref', envelopeOf('PackTestRequested', { pack_install_id: 1, pack_ref: '../etc', pack_version: '1', trigger_reason: 'install' })],
    ['absolute pack ref', envelopeOf('PackTestRequested', { pack_install_id: 1, pack_ref: '/etc', pack_version: '1', trigger_reason: 'install' })],
  ])('%s → dead-lettered with one error line', async (_name, body) => {
    const before = cap.lines.length;
    expect(await tests.handle(deliveryOf(body))).toBe('reject');
    const lines = cap.lines.slice(before).filter((l) => (l.level as number) >= 50);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.msg).toBe('malformed pack test request rejected (dead-lettered); the agent keeps serving');
  });
});

describe('stale attempt clean-up at start (spec 07 §1.6)', () => {
  it('removes integer-named attempt dirs older than 7 h only', async () => {
    const root = join(dirs.packsDir, '.pack-test-attempts');
    for (const n of ['11', '12', 'keep-me']) mkdirSync(join(root, n), { recursive: true });
    const removed = await tests.cleanupStaleAttempts(Date.now() + 8 * 3600_000);
    expect(removed).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(root, '11'))).toBe(false);
    expect(existsSync(join(root, 'keep-me'))).toBe(true);
    mkdirSync(join(root, '13'));
    expect(await tests.cleanupStaleAttempts()).toBe(0);
    expect(existsSync(join(root, '13'))).toBe(true);
  });
});
