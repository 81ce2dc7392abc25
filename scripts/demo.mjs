#!/usr/bin/env node
// `npm run demo`: the agent end to end on this machine. Uses the local PostgreSQL and RabbitMQ
// (ATTUNE__DATABASE__URL / ATTUNE__MESSAGE_QUEUE__URL override the defaults), creates/updates the
// `attune_demo` database with the development schema, installs the example pack, starts the
// agent, submits executions like Attune's executor would, prints a results table and stops the
// agent. Exits non-zero when an execution ends in another status than the table expects.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, existsSync, createWriteStream } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './build.mjs';
import { applySchema } from './apply-schema.mjs';
import { ControlPlane } from './lib/control-plane.mjs';
import { FakeAttuneApi } from './lib/fake-api.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DB_URL = process.env.ATTUNE__DATABASE__URL ?? 'postgresql://postgres@127.0.0.1:5432/attune_demo';
const MQ_URL = process.env.ATTUNE__MESSAGE_QUEUE__URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2f';
const ENCRYPTION_KEY = process.env.ATTUNE__SECURITY__ENCRYPTION_KEY ?? 'demo-encryption-key-0123456789abcdef';
const JWT_SECRET = process.env.ATTUNE__SECURITY__JWT_SECRET ?? 'demo-jwt-secret';
const PACK_DIR = join(root, 'test', 'fixtures', 'packs', 'demo-test');

const EXECUTIONS = [
  { actionRef: 'demo_test.echo', parameters: { message: 'Hello from the attune-agent demo' }, expect: 'completed' },
  { actionRef: 'demo_test.py_json', parameters: { name: 'Attune', count: 3 }, expect: 'completed' },
  { actionRef: 'demo_test.node_json', parameters: { numbers: [4, 5, 6] }, expect: 'completed' },
  { actionRef: 'demo_test.secret', parameters: { user: 'demo' }, secrets: { token: 's3cr3t-demo-token' }, expect: 'completed' },
  { actionRef: 'demo_test.fail', parameters: { code: 3 }, expect: 'failed' },
  { actionRef: 'demo_test.sleep', parameters: { seconds: 30 }, timeoutSec: 2, expect: 'timeout' },
];

function say(msg) {
  process.stdout.write(`${msg}\n`);
}

function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = createConnection({ host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) });
    s.setTimeout(2000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

async function main() {
  const started = Date.now();
  if (!(await reachable(DB_URL, 5432))) {
    const u = new URL(DB_URL);
    say(`PostgreSQL is not reachable at ${u.hostname}:${u.port || 5432}. Start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set ATTUNE__DATABASE__URL.`);
    return 1;
  }
  if (!(await reachable(MQ_URL, 5672))) {
    const u = new URL(MQ_URL);
    say(`RabbitMQ is not reachable at ${u.hostname}:${u.port || 5672}. Start it (rabbitmq-server -detached) or set ATTUNE__MESSAGE_QUEUE__URL.`);
    return 1;
  }

  say('1/5 building the agent (dist/attune-agent.cjs)');
  const { outfile } = await bundle();

  say(`2/5 applying the development schema to ${new URL(DB_URL).pathname.slice(1)}`);
  const applied = await applySchema({ url: DB_URL });
  say(`    ${applied.created ? 'created the database, ' : ''}${applied.applied.length} migration(s) applied, ${applied.skipped.length} already present`);

  const work = mkdtempSync(join(tmpdir(), 'attune-demo-'));
  const packsDir = join(work, 'packs');
  mkdirSync(packsDir, { recursive: true });
  const cp = await new ControlPlane({ databaseUrl: DB_URL, amqpUrl: MQ_URL, packsDir, encryptionKey: ENCRYPTION_KEY }).connect();
  // Attune's API part the worker needs in volume mode: sealing log streams (spec 06 §1).
  const api = await new FakeAttuneApi({ jwtSecret: JWT_SECRET, databaseUrl: DB_URL, artifactsDir: join(work, 'artifacts') }).start();
  let agent;
  try {
    say('3/5 installing the example pack demo_test (shell, python, node actions)');
    await cp.installPack(PACK_DIR);

    const workerName = `demo-agent-${hostname()}`;
    say(`4/5 starting the agent as worker ${workerName} (log: ${join(work, 'agent.log')})`);
    const agentLog = createWriteStream(join(work, 'agent.log'));
    agent = spawn(process.execPath, [outfile, 'run', '--name', workerName], {
      env: {
        ...process.env,
        ATTUNE__DATABASE__URL: DB_URL,
        ATTUNE__MESSAGE_QUEUE__URL: MQ_URL,
        ATTUNE__SECURITY__JWT_SECRET: JWT_SECRET,
        ATTUNE_API_URL: api.url,
        ATTUNE__SECURITY__ENCRYPTION_KEY: ENCRYPTION_KEY,
        ATTUNE__PACKS_BASE_DIR: packsDir,
        ATTUNE__RUNTIME_ENVS_DIR: join(work, 'runtime_envs'),
        ATTUNE__ARTIFACTS_DIR: join(work, 'artifacts'),
        ATTUNE__PACKS__TRANSPORT: 'volume',
        ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
        ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '10',
        ATTUNE__AGENT__STARTUP_TIMEOUT: '15',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout.pipe(agentLog);
    agent.stderr.pipe(agentLog);
    const agentExit = new Promise((resolve) => agent.once('exit', (code, signal) => resolve({ code, signal })));
    const worker = await Promise.race([
      cp.waitForWorker(workerName, 30_000),
      agentExit.then(({ code }) => {
        throw new Error(`the agent exited with code ${code} before registering; see ${join(work, 'agent.log')}`);
      }),
    ]);
    // The per-worker queue exists once the agent consumes; give it a moment after registration.
    await waitForQueueConsumer(cp, Number(worker.id));
    const workerId = Number(worker.id);

    say(`5/5 submitting ${EXECUTIONS.length} executions to worker ${workerId}`);
    const submitted = [];
    for (const e of EXECUTIONS) {
      const ex = await cp.createExecution({ actionRef: e.actionRef, workerId, parameters: e.parameters, secrets: e.secrets, timeoutSec: e.timeoutSec ?? null });
      await cp.dispatch(ex, workerId);
      submitted.push({ ...e, id: ex.id, sentAt: Date.now() });
    }
    await cp.waitForCompletions(submitted.map((s) => s.id), 60_000);

    const rows = [];
    let mismatches = 0;
    for (const s of submitted) {
      const row = await cp.getExecution(s.id);
      const result = row.result ?? {};
      const ok = row.status === s.expect;
      if (!ok) mismatches++;
      const logs = await logArtifacts(cp, s.id);
      if (!logs.complete) mismatches++;
      rows.push({
        id: String(s.id),
        action: s.actionRef,
        expected: s.expect,
        status: `${row.status}${ok ? '' : '  <-- unexpected'}`,
        ms: String(result.duration_ms ?? '-'),
        'log artifacts (db)': logs.text,
        result: excerpt(result),
      });
    }
    say('');
    printTable(rows, ['id', 'action', 'expected', 'status', 'ms', 'log artifacts (db)', 'result']);
    say('');
    const completions = submitted.map((s) => cp.completionsFor(s.id).length);
    say(`ExecutionCompleted messages: ${completions.reduce((a, b) => a + b, 0)} for ${submitted.length} executions (exactly one each: ${completions.every((n) => n === 1) ? 'yes' : 'NO'})`);

    agent.kill('SIGTERM');
    const { code } = await agentExit;
    const w = await cp.getWorkerByName(workerName);
    say(`agent stopped with exit code ${code}; worker ${workerName} is now ${w?.status}`);
    say(`demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (code !== 0) mismatches++;
    if (!completions.every((n) => n === 1)) mismatches++;
    return mismatches === 0 ? 0 : 1;
  } finally {
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    await api.close();
    await cp.close();
    if (!process.env.ATTUNE_DEMO_KEEP) rmSync(work, { recursive: true, force: true });
  }
}

async function waitForQueueConsumer(cp, workerId) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const ch = await cp.conn.createChannel();
      ch.on('error', () => {});
      const q = await ch.checkQueue(`worker.${workerId}.executions`);
      await ch.close().catch(() => {});
      if (q.consumerCount > 0) return;
    } catch {
      /* not declared yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The execution's stdout/stderr log artifacts as the UI would find them: rows, sizes set at seal. */
async function logArtifacts(cp, executionId) {
  const { rows } = await cp.query(
    `SELECT a.ref, v.version, v.size_bytes, s.sealed
     FROM artifact_version v JOIN artifact a ON a.id = v.artifact JOIN log_stream s ON s.artifact_version = v.id
     WHERE v.execution = $1 ORDER BY a.ref DESC`,
    [executionId],
  );
  const complete = rows.length === 2 && rows.every((r) => r.sealed);
  const text = rows.map((r, i) => `${i === 0 ? r.ref : r.ref.slice(r.ref.lastIndexOf('.', r.ref.length - 5))} v${r.version} ${r.sealed ? `${r.size_bytes} B` : 'unsealed'}`).join(', ');
  return { complete, text: text || 'none' };
}

function excerpt(result) {
  const r = { ...result };
  delete r.duration_ms;
  delete r.succeeded;
  if (r.stderr_log) r.stderr_log = '…/' + r.stderr_log.split('/').slice(-2).join('/');
  const text = JSON.stringify(r);
  return text.length > 90 ? `${text.slice(0, 87)}...` : text;
}

function printTable(rows, cols) {
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...rows.map((r) => r[c].length))]));
  const line = (r) => cols.map((c) => r[c].padEnd(width[c])).join('  ');
  say(line(Object.fromEntries(cols.map((c) => [c, c.toUpperCase()]))));
  say(cols.map((c) => '-'.repeat(width[c])).join('  '));
  for (const r of rows) say(line(r));
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
