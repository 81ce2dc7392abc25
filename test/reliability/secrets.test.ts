/**
 * Secrets never leak from the agent (issue step 8). Canaries: a secret execution parameter, the
 * database password, the RabbitMQ password (a throwaway broker user), the encryption key and
 * the JWT secret. None may appear in the agent's log, its start-up error messages, /metrics,
 * the child environment of other executions, execution results / bus messages, or any file
 * left behind in os.tmpdir() or the artifacts dir.
 *
 * What an action prints about its own secret (a separate canary): the result in the DB and on
 * the bus is redacted, and the log streams of executions with secrets (files on the artifacts
 * volume, their artifact/log_stream rows, the mirrored lines in the agent's own output) carry
 * `[REDACTED]` in its place (upstream's would hold the raw output), so it is nowhere on disk either.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rabbitmqctl } from '../support/amqp';
import { startFakeApi, type FakeApi } from '../support/fake-api';
import {
  agentBundle,
  AgentProcess,
  createExecutions,
  createHarness,
  fileContains,
  filesModifiedSince,
  freePort,
  installPack,
  killAll,
  processesWithEnv,
  randomHex,
  removeAgentBundle,
  sleep,
  waitTerminal,
  type AgentHarness,
  type InstalledPack,
} from '../support/chaos';

const hex = randomHex(6);
const SECRET = `CANARY-SECRET-${hex}`;
const LEAKED_BY_ACTION = `CANARY-ACTION-PRINTED-${hex}`;
const DB_PASSWORD = `CANARY-DBPW-${hex}`;
const MQ_PASSWORD = `CANARY-MQPW-${hex}`;
const ENCRYPTION_KEY = `CANARY-ENCKEY-${hex}-0123456789abcdef`;
const JWT_SECRET = `CANARY-JWT-${hex}`;
const AGENT_CANARIES = [SECRET, DB_PASSWORD, MQ_PASSWORD, ENCRYPTION_KEY, JWT_SECRET];
const mqUser = `chaos_user_${hex}`;

let h: AgentHarness;
let pack: InstalledPack;
const packRef = `secrets_${randomHex(4)}`;
const suiteStart = Date.now() - 1000;
let healthPort: number;
let api: FakeApi;
let metricsText = '';

function withPassword(url: string, user: string | null, password: string): string {
  const u = new URL(url);
  if (user !== null) u.username = user;
  u.password = password;
  return u.toString();
}

const SCRIPTS: Record<string, string> = {
  // Uses the secret without printing it.
  'actions/use.py': [
    'import json, sys, hashlib',
    'doc = json.loads(sys.stdin.readline())',
    "print(json.dumps({'len': len(doc['token']), 'sha_prefix': hashlib.sha256(doc['token'].encode()).hexdigest()[:8]}))",
    '',
  ].join('\n'),
  // File delivery: the 0400 parameter file exists during the run.
  'actions/use_file.py': [
    'import json, os',
    "path = os.environ['ATTUNE_PARAMETER_FILE']",
    'doc = json.load(open(path))',
    "print(json.dumps({'len': len(doc['token']), 'mode': oct(os.stat(path).st_mode & 0o777)}))",
    '',
  ].join('\n'),
  'actions/slow_file.sh': '#!/bin/bash\nsleep 30\n',
  'actions/fail.sh': '#!/bin/bash\necho "could not use the credentials" >&2\nexit 3\n',
  // Prints its own secret (action-side leak): the agent must still redact the result.
  'actions/leak.py': [
    'import json, sys',
    'doc = json.loads(sys.stdin.readline())',
    "print('the token is', doc['token'])",
    "print('again', doc['token'], file=sys.stderr)",
    'sys.exit(1)',
    '',
  ].join('\n'),
  // Another execution looking for anything secret in its own environment.
  'actions/env_dump.sh': '#!/bin/bash\ntr "\\0" "\\n" < /proc/self/environ\necho ---\nenv\n',
};

beforeAll(async () => {
  await rabbitmqctl('add_user', mqUser, MQ_PASSWORD);
  h = await createHarness({ agent: { maxConcurrentTasks: 6 } });
  await rabbitmqctl('set_permissions', '-p', h.vhost.vhost, mqUser, '.*', '.*', '.*');
  healthPort = await freePort();
  api = await startFakeApi({ jwtSecret: JWT_SECRET, databaseUrl: h.db.url, artifactsDir: h.ws.artifactsDir });
  pack = await installPack(h.db.pool, h.ws.packsDir, {
    ref: packRef,
    files: SCRIPTS,
    actions: [
      { name: 'use', entrypoint: 'use.py', runner: 'python', outputFormat: 'json', paramSchema: { token: { type: 'string', secret: true } } },
      { name: 'use_file', entrypoint: 'use_file.py', runner: 'python', parameterDelivery: 'file', outputFormat: 'json' },
      { name: 'slow_file', entrypoint: 'slow_file.sh', parameterDelivery: 'file', parameterFormat: 'dotenv', timeoutSec: 2 },
      { name: 'fail', entrypoint: 'fail.sh' },
      { name: 'leak', entrypoint: 'leak.py', runner: 'python' },
      { name: 'env_dump', entrypoint: 'env_dump.sh' },
    ],
  });
  await h.startAgent({
    databaseUrl: withPassword(h.db.url, null, DB_PASSWORD), // trust auth ignores it; the agent still holds it
    amqpUrl: withPassword(h.amqpUrl, mqUser, MQ_PASSWORD),
    encryptionKey: ENCRYPTION_KEY,
    jwtSecret: JWT_SECRET,
    healthPort,
    // Action output mirrored into the agent's own log (spec 06 §4): checked for canaries too.
    env: { ATTUNE_API_URL: api.url, ATTUNE__LOG__MIRROR_RUNTIME_STDOUT_TO_STDIO: 'true', ATTUNE__LOG__MIRROR_RUNTIME_STDERR_TO_STDIO: 'true' },
  });
}, 120_000);

afterAll(async () => {
  killAll(processesWithEnv(`ATTUNE_PACK_REF=${packRef}`));
  await h?.dispose();
  await api?.close();
  await rabbitmqctl('delete_user', mqUser).catch(() => undefined);
  removeAgentBundle();
}, 60_000);

describe('secrets stay out of logs, errors, metrics, other executions and leftover files', () => {
  let rows: Map<number, { status: string; result: Record<string, unknown> | null }>;
  let ids: Record<string, number> = {};


  it('executions with a secret parameter run (stdin and file delivery, failure, timeout) next to an env-dumping one', async () => {
    const items = [
      { action: 'use', secrets: { token: SECRET } },
      { action: 'use_file', secrets: { token: SECRET } },
      { action: 'slow_file', secrets: { token: SECRET } },
      { action: 'fail', secrets: { token: SECRET } },
      { action: 'leak', secrets: { token: LEAKED_BY_ACTION } },
      { action: 'env_dump' },
    ];
    const created = await createExecutions(h.db.pool, pack, h.workerId as number, items, { encryptionKey: ENCRYPTION_KEY });
    ids = Object.fromEntries(created.map((c, i) => [items[i]?.action as string, c.id]));
    for (const c of created) await h.dispatcher.dispatch(c.id, h.workerId as number, pack, c.actionRef);
    rows = await waitTerminal(
      h.db.pool,
      created.map((c) => c.id),
      60_000,
    );
    await h.recorder.waitForCompletions(
      created.map((c) => c.id),
      10_000,
    );
    const st = (a: string) => rows.get(ids[a] as number);
    console.log(`[secrets] statuses ${JSON.stringify(Object.fromEntries(Object.entries(ids).map(([a, id]) => [a, rows.get(id)?.status])))}`);
    expect(st('use')?.status).toBe('completed');
    expect(st('use')?.result?.data).toMatchObject({ len: SECRET.length });
    expect(st('use_file')?.status).toBe('completed');
    expect(st('use_file')?.result?.data).toEqual({ len: SECRET.length, mode: '0o400' });
    expect(st('slow_file')?.status).toBe('timeout');
    expect(st('fail')?.status).toBe('failed');
    expect(st('leak')?.status).toBe('failed');
    expect(st('env_dump')?.status).toBe('completed');
    // The env dump really looked: it shows the agent-provided context.
    expect(String(st('env_dump')?.result?.stdout)).toContain(`ATTUNE_EXEC_ID=${ids.env_dump}`);
  });

  it('another execution sees no secret in its environment', () => {
    const dump = String(rows.get(ids.env_dump as number)?.result?.stdout ?? '');
    for (const c of [...AGENT_CANARIES, LEAKED_BY_ACTION]) expect(dump).not.toContain(c);
    expect(dump).not.toMatch(/ATTUNE__/); // no agent configuration variable at all
  });

  it('results in the database and on the bus are redacted, even what an action printed itself', async () => {
    const db = await h.db.pool.query<{ t: string }>('SELECT result::text AS t FROM execution WHERE id = ANY($1::bigint[])', [Object.values(ids)]);
    const text = db.rows.map((r) => r.t).join('\n');
    for (const c of [...AGENT_CANARIES, LEAKED_BY_ACTION]) expect(text).not.toContain(c);
    const bus = JSON.stringify(h.recorder.messages);
    for (const c of [...AGENT_CANARIES, LEAKED_BY_ACTION]) expect(bus).not.toContain(c);
    expect(rows.get(ids.leak as number)?.result?.stdout).toEqual({ $attune_secret: true, redacted: true });
  });

  it('log streams of secret executions exist, sealed, with the printed secret replaced in rows and files', async () => {
    const res = await h.db.pool.query<{ execution: string; file_path: string; sealed: boolean; t: string }>(
      `SELECT v.execution, v.file_path, s.sealed, (to_jsonb(a) || to_jsonb(v) || to_jsonb(s))::text AS t
       FROM artifact_version v JOIN artifact a ON a.id = v.artifact JOIN log_stream s ON s.artifact_version = v.id
       WHERE v.execution = ANY($1::bigint[])`,
      [Object.values(ids)],
    );
    expect(res.rows.length).toBe(2 * Object.keys(ids).length);
    for (const r of res.rows) for (const c of [...AGENT_CANARIES, LEAKED_BY_ACTION]) expect(r.t).not.toContain(c);
    const leak = res.rows.filter((r) => Number(r.execution) === ids.leak);
    const texts = leak.map((r) => readFileSync(join(h.ws.artifactsDir, r.file_path), 'utf8')).sort();
    expect(texts).toEqual(['again [REDACTED]\n', 'the token is [REDACTED]\n']);
    expect(leak.every((r) => r.sealed)).toBe(true);
  });

  it('/metrics, the agent log and its exit show none of the canaries', async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`);
    metricsText = await res.text();
    expect(res.status).toBe(200);
    expect(metricsText).toContain('attune_agent_executions_total');
    for (const c of AGENT_CANARIES) expect(metricsText).not.toContain(c);
    const agent = h.agent as AgentProcess;
    agent.kill('SIGTERM');
    expect(await agent.waitExit(30_000)).toEqual({ code: 0, signal: null });
    await agent.closeLog();
    const log = h.readLog();
    expect(log).toContain('attune-agent ready');
    for (const c of [...AGENT_CANARIES, LEAKED_BY_ACTION]) expect(log, c).not.toContain(c);
    // The mirror really ran: the leak execution's lines are in the agent's output, redacted.
    expect(log).toMatch(new RegExp(`"event":"attune.runtime_log".*"execution_id":${ids.leak},.*"body":"the token is \\[REDACTED\\]"`));
  });

  it('start-up error messages (wrong database port, wrong broker password) do not print the passwords', async () => {
    const bundle = await agentBundle();
    const base = {
      name: `secrets-err-${randomHex(3)}`,
      packsDir: h.ws.packsDir,
      artifactsDir: h.ws.artifactsDir,
      runtimeEnvsDir: h.ws.runtimeEnvsDir,
      cwd: h.ws.dir,
      encryptionKey: ENCRYPTION_KEY,
      jwtSecret: JWT_SECRET,
      env: { ATTUNE__AGENT__STARTUP_TIMEOUT: '2' },
    };
    const errLog = join(h.ws.dir, 'startup-errors.log');
    const badDb = new AgentProcess(bundle, { ...base, databaseUrl: `postgresql://postgres:${encodeURIComponent(DB_PASSWORD)}@127.0.0.1:1/nowhere`, amqpUrl: withPassword(h.amqpUrl, mqUser, MQ_PASSWORD) }, errLog);
    const e1 = await badDb.waitExit(60_000);
    await badDb.closeLog();
    const badMq = new AgentProcess(bundle, { ...base, databaseUrl: withPassword(h.db.url, null, DB_PASSWORD), amqpUrl: withPassword(h.amqpUrl, mqUser, `${MQ_PASSWORD}-wrong`) }, errLog);
    const e2 = await badMq.waitExit(60_000);
    await badMq.closeLog();
    const text = readFileSync(errLog, 'utf8');
    console.log(`[secrets] start-up failures exit ${e1.code} / ${e2.code}; messages:\n${text.split('\n').filter((l) => /error|Cannot|refused/i.test(l)).slice(-4).join('\n').slice(0, 1500)}`);
    expect(e1.code).not.toBe(0);
    expect(e2.code).not.toBe(0);
    expect(text).toMatch(/127\.0\.0\.1:1/); // it does say where it tried
    for (const c of AGENT_CANARIES) expect(text, c).not.toContain(c);
  });

  it('no file left in os.tmpdir() or the artifacts dir contains an agent-side canary; parameter files are gone', async () => {
    await sleep(200);
    const scanned: string[] = [];
    const hits: string[] = [];
    const skip = (p: string): boolean => /\/attune-chaos-pg-|\/proc\//.test(p);
    for (const root of [tmpdir(), h.ws.artifactsDir]) {
      if (!existsSync(root)) continue;
      for (const f of filesModifiedSince(root, suiteStart, skip)) {
        scanned.push(f);
        for (const c of fileContains(f, AGENT_CANARIES)) hits.push(`${f}: ${c.split('-').slice(0, 2).join('-')}`);
      }
    }
    // Log streams of executions with secrets hold [REDACTED]: what the action printed is not on disk.
    const actionLeak = [tmpdir(), h.ws.artifactsDir].flatMap((root) => filesModifiedSince(root, suiteStart, skip)).filter((f) => fileContains(f, [LEAKED_BY_ACTION]).length > 0);
    console.log(`[secrets] scanned ${scanned.length} files modified during the suite; agent canary hits: ${hits.length}; action-printed canary hits: ${actionLeak.length}`);
    expect(scanned.length).toBeGreaterThan(0);
    expect(hits).toEqual([]);
    expect(actionLeak).toEqual([]);
    expect(existsSync(join(h.ws.artifactsDir, `execution_${ids.leak}`))).toBe(false); // no result.json with secrets
    expect(existsSync(join(h.ws.artifactsDir, packRef, 'env_dump', 'stdout', 'log', 'v1.txt'))).toBe(true);
  });
});
