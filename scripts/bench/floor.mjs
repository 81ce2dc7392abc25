#!/usr/bin/env node
// Micro-benchmark: the least CPU any Node agent built on pg and amqplib spends per execution —
// the floor under the "agent CPU per execution" row of `npm run bench` (issue 18).
//
//   node scripts/bench/floor.mjs [--executions N] [--concurrency 1,16] [--node BIN]
//                                [--v8-options "--max-semi-space-size=2"] [--json]
//
// A skeleton consumer (run by the Node under test, --node, default this one) does only what an
// execution cannot do without, with the same libraries as the agent: take one message (prefetch
// = concurrency), one prepared UPDATE … RETURNING to claim a row, spawn `/bin/bash noop.sh`
// the way src/execution/run.ts does (own process group, three pipes, parameters on stdin,
// stdout/stderr read to EOF), one terminal UPDATE (batched across executions that finish while
// one is in flight, as the agent does), three publishes on a confirm channel (two status changes
// and the completion), then the ack. No logging, no log-stream rows or files, no journal, no
// redaction, no secrets, no upstream schema or triggers: less than the agent must do, so its
// CPU is a lower bound. Each case also runs with the spawn left out (`spawn: no`). CPU is the
// skeleton's own utime+stime (process.cpuUsage(), all threads, children excluded) from the
// first message to the last ack, divided by the executions. The skeleton runs with the agent's
// V8 options (sea-config.json `execArgv`): the size of the young generation sets what each fork
// copies. PostgreSQL's CPU is that of the database's backends over the same window: the floor
// for the two writes on a plain table and, in `npm run bench`, on upstream's `execution` table
// with its triggers and indexes (the writes upstream's own worker makes per execution).
//
// Run alone it creates and drops a database (plain table only) and uses the default vhost
// (ATTUNE_BENCH_PG_URL, ATTUNE_BENCH_AMQP_URL as in `npm run bench`); `npm run bench` runs it
// as its `floor` section, on the bench's database and vhost.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import pg from 'pg';
import { dropLogs, runAction } from './lib/floor-action.mjs';
import { NOOP_SCRIPT } from './lib/harness.mjs';
import { amqpBaseUrl, pgBaseUrl } from './lib/infra.mjs';
import { pgBackendsCpu } from './lib/util.mjs';

const self = fileURLToPath(import.meta.url);
/** The V8 options the agent runs with (sea-config.json `execArgv`; the plain bundle adds the same). */
const AGENT_EXEC_ARGV = JSON.parse(readFileSync(join(dirname(self), '..', '..', 'sea-config.json'), 'utf8')).execArgv ?? [];

function parseArgs(argv) {
  const o = { executions: 4000, concurrency: [1, 16], node: process.execPath, execArgv: AGENT_EXEC_ARGV, json: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--executions') o.executions = Number(v());
    else if (a === '--concurrency') o.concurrency = v().split(',').map(Number);
    else if (a === '--node') o.node = v();
    else if (a === '--v8-options') o.execArgv = v().split(/\s+/).filter(Boolean);
    else if (a === '--json') o.json = true;
    else if (a === '--child') o.child = JSON.parse(v());
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/**
 * The two writes per execution. `plain`: a table of its own without triggers or indexes beyond
 * its key. `upstream`: upstream's `execution` table with its triggers (history, NOTIFY) and
 * indexes, written as upstream's worker writes it (spec 04 §4.2: mark running, terminal UPDATE;
 * here the mark-running one has a status guard and the terminal one is batched as the agent
 * batches it).
 */
const STATEMENTS = {
  plain: {
    claim: 'UPDATE floor_execution SET status = $2, started = now() WHERE id = $1 AND status = $3 RETURNING id, action_ref, config, status, started, created',
    complete: 'UPDATE floor_execution e SET status = $3, result = u.result, updated = now() FROM unnest($1::bigint[], $2::jsonb[]) AS u(id, result) WHERE e.id = u.id',
  },
  upstream: {
    claim: 'UPDATE execution SET status = $2, started_at = now(), updated = now() WHERE id = $1 AND status = $3 RETURNING *',
    complete: 'UPDATE execution e SET status = $3, result = u.result, updated = now() FROM unnest($1::bigint[], $2::jsonb[]) AS u(id, result) WHERE e.id = u.id',
  },
};

/** Terminal UPDATEs: one statement for all that finish while another is in flight. */
function completer(pool, COMPLETE) {
  let waiting = [];
  let inFlight = false;
  const flush = async () => {
    if (inFlight || waiting.length === 0) return;
    inFlight = true;
    const batch = waiting;
    waiting = [];
    await pool.query({ name: 'complete', text: COMPLETE, values: [batch.map((b) => b.id), batch.map((b) => b.result), 'completed'] });
    inFlight = false;
    for (const b of batch) b.done();
    void flush();
  };
  return (id, result) => new Promise((done) => {
    waiting.push({ id, result, done });
    void flush();
  });
}

/** The skeleton (in its own process): consume `executions` messages, print its CPU as JSON. */
async function skeleton({ databaseUrl, amqpUrl, queue, exchange, executions, concurrency, withSpawn, script, schema, searchPath, output = null }) {
  const { claim: CLAIM, complete: COMPLETE } = STATEMENTS[schema];
  const dbName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  // search_path as a start-up option, as the agent sets it (spec 04 §1.1), for upstream's tables.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: Math.min(concurrency, 8), ...(searchPath ? { options: `-c search_path=${searchPath}` } : {}) });
  // Large values stored with lz4 where the server has it, as the agent's sessions do (src/db/pool.ts).
  pool.on('connect', (client) => void client.query("SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)").catch(() => undefined));
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createChannel();
  const pub = await conn.createConfirmChannel();
  await ch.prefetch(concurrency);
  const complete = completer(pool, COMPLETE);
  const publishText = (key, text) => new Promise((resolve, reject) => pub.publish(exchange, key, Buffer.from(text), { persistent: true, contentType: 'application/json' }, (e) => (e ? reject(e) : resolve())));
  const publish = (key, body) => publishText(key, JSON.stringify(body));
  let done = 0;
  let c0 = null;
  let pg0 = 0;
  let t0 = 0;
  const finished = new Promise((resolve, reject) => {
    const handle = async (msg) => {
      if (c0 === null) {
        c0 = process.cpuUsage();
        pg0 = pgBackendsCpu(dbName);
        t0 = performance.now();
      }
      const { execution_id: id } = JSON.parse(msg.content.toString());
      const { rows } = await pool.query({ name: 'claim', text: CLAIM, values: [id, 'running', 'scheduled'] });
      if (rows.length !== 1) throw new Error(`execution ${id} not claimed`);
      const running = publish('execution.status.changed', { execution_id: id, status: 'running' });
      const result = withSpawn ? await runAction(script, { id, ...rows[0].config }, output) : { exit_code: 0, stdout: '', stderr: '', succeeded: true };
      // The result is serialised once, for the UPDATE and the completion (as the agent does).
      const resultText = JSON.stringify(result);
      await complete(id, resultText);
      await Promise.all([running, publish('execution.status.changed', { execution_id: id, status: 'completed' }), publishText('execution.completed', `{"execution_id":${id},"status":"completed","result":${resultText}}`)]);
      ch.ack(msg);
      dropLogs(output, id);
      if (++done === executions) resolve();
    };
    ch.consume(queue, (msg) => handle(msg).catch(reject));
  });
  await finished;
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  // The pool's backends (and the idle ones of this database) before they exit with pool.end().
  const postgresMs = pgBackendsCpu(dbName) - pg0;
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  await conn.close();
  await pool.end();
  return { cpuMs: (c.user + c.system) / 1000, userMs: c.user / 1000, sysMs: c.system / 1000, postgresMs, wallMs, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : null };
}

function runChild(node, execArgv, spec) {
  return new Promise((resolve, reject) => {
    const c = spawn(node, [...execArgv, self, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`skeleton ${JSON.stringify(spec)} exited ${code}`))));
  });
}

/** A fresh, full queue for one case: one message per execution id; the skeleton drains it. */
async function fillQueue(ch, queue, ids) {
  await ch.assertQueue(queue, { durable: true });
  for (const id of ids) ch.sendToQueue(queue, Buffer.from(JSON.stringify({ execution_id: id })), { persistent: true });
  await ch.waitForConfirms();
}

const PLAIN_TABLE = 'CREATE TABLE floor_execution (id bigint PRIMARY KEY, action_ref text NOT NULL, config jsonb, status text NOT NULL, result jsonb, started timestamptz, created timestamptz NOT NULL DEFAULT now(), updated timestamptz)';

/** `executions` fresh `scheduled` rows of the plain table, ids 1..executions. */
async function plainRows(db, executions) {
  await db.query('TRUNCATE floor_execution');
  await db.query("INSERT INTO floor_execution (id, action_ref, config, status) SELECT g, 'bench.noop', '{\"n\": 1}', 'scheduled' FROM generate_series(1, $1) g", [executions]);
  return Array.from({ length: executions }, (_, i) => i + 1);
}

const perExecution = (ms, n) => +(ms / n).toFixed(3);

/**
 * The skeleton at each concurrency: on the plain table with and without its spawn and, when
 * `upstreamRows(n)` is given (it creates n `scheduled` rows of upstream's `execution` table and
 * returns their ids; `searchPath` finds the table), on upstream's table with the spawn. Makes
 * (and drops) the table `floor_execution` in `databaseUrl`, and a queue per case and an exchange
 * in `amqpUrl`'s vhost.
 */
export async function measureFloor({ node, execArgv = AGENT_EXEC_ARGV, databaseUrl, amqpUrl, executions, concurrencies, script, upstreamRows = null, searchPath = null }) {
  const tag = randomBytes(4).toString('hex');
  const queue = `attune-floor-${tag}`;
  const exchange = `attune-floor-${tag}`;
  const db = new pg.Client({ connectionString: databaseUrl });
  const conn = await amqp.connect(amqpUrl);
  const rows = [];
  const cases = [
    { schema: 'plain', withSpawn: true },
    { schema: 'plain', withSpawn: false },
    ...(upstreamRows ? [{ schema: 'upstream', withSpawn: true }] : []),
  ];
  try {
    await db.connect();
    await db.query(PLAIN_TABLE);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false });
    for (const concurrency of concurrencies) {
      for (const { schema, withSpawn } of cases) {
        const caseQueue = `${queue}-${rows.length}`;
        const ids = schema === 'plain' ? await plainRows(db, executions) : await upstreamRows(executions);
        await fillQueue(ch, caseQueue, ids);
        const r = await runChild(node, execArgv, { databaseUrl, amqpUrl, queue: caseQueue, exchange, executions, concurrency, withSpawn, script, schema, searchPath: schema === 'upstream' ? searchPath : null });
        await ch.deleteQueue(caseQueue);
        rows.push({
          concurrency,
          schema,
          spawn: withSpawn,
          executions,
          cpuMsPerExecution: perExecution(r.cpuMs, executions),
          userMsPerExecution: perExecution(r.userMs, executions),
          sysMsPerExecution: perExecution(r.sysMs, executions),
          postgresMsPerExecution: perExecution(r.postgresMs, executions),
          perSec: Math.round(executions / (r.wallMs / 1000)),
          peakRssMiB: r.peakRssMiB === null ? null : +r.peakRssMiB.toFixed(1),
        });
      }
    }
    await ch.deleteExchange(exchange);
  } finally {
    await conn.close().catch(() => undefined);
    await db.query('DROP TABLE IF EXISTS floor_execution').catch(() => undefined);
    await db.end().catch(() => undefined);
  }
  return rows;
}

/**
 * The skeleton one execution at a time (prefetch 1): each message is published (confirmed) only
 * after the completion of the one before has arrived here, as the bench's overhead section
 * drives the agent. Returns the `runs` latencies after `warmup` (ms, publish → completion),
 * on upstream's table (`upstreamRows`, `searchPath` as for measureFloor), with the spawn
 * unless `withSpawn` is false.
 * `between(counted)` runs after each execution (a baseline measured under the same load);
 * `output` ({ logDir, maxBytes }) has the skeleton copy the output to log files and keep only the
 * first maxBytes of each stream (runAction), as the agent does with an action that prints a lot.
 */
export async function measureSequentialFloor({ node, execArgv = AGENT_EXEC_ARGV, amqpUrl, databaseUrl, runs, warmup, script, upstreamRows, searchPath, between = null, output = null, withSpawn = true }) {
  const tag = randomBytes(4).toString('hex');
  const queue = `attune-floor-seq-${tag}`;
  const exchange = `attune-floor-seq-${tag}`;
  const conn = await amqp.connect(amqpUrl);
  const latencies = [];
  try {
    const ids = await upstreamRows(runs + warmup);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false });
    await ch.assertQueue(queue, { durable: true });
    const replies = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await ch.bindQueue(replies, exchange, 'execution.completed');
    const waiting = new Map();
    await ch.consume(replies, (msg) => {
      const { execution_id: id } = JSON.parse(msg.content.toString());
      waiting.get(id)?.(performance.now());
      waiting.delete(id);
    }, { noAck: true });
    const child = runChild(node, execArgv, { databaseUrl, amqpUrl, queue, exchange, executions: ids.length, concurrency: 1, withSpawn, script, schema: 'upstream', searchPath, output });
    const failed = child.then(() => new Promise(() => {}), (e) => Promise.reject(e));
    failed.catch(() => undefined); // reported by the race below or by `await child`
    for (let i = 0; i < ids.length; i++) {
      const arrived = new Promise((resolve) => waiting.set(ids[i], resolve));
      const t0 = performance.now();
      ch.sendToQueue(queue, Buffer.from(JSON.stringify({ execution_id: ids[i] })), { persistent: true });
      await ch.waitForConfirms();
      const at = await Promise.race([arrived, failed]);
      if (i >= warmup) latencies.push(at - t0);
      await between?.(i >= warmup);
    }
    await child;
    await ch.deleteQueue(queue);
    await ch.deleteExchange(exchange);
  } finally {
    await conn.close().catch(() => undefined);
  }
  return latencies;
}

/** `process.version` of a Node binary. */
export function nodeVersionOf(node) {
  return new Promise((resolve) => {
    const c = spawn(node, ['-p', 'process.version'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    c.stdout.on('data', (d) => (s += d));
    c.on('close', () => resolve(s.trim()));
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) {
    process.stdout.write(JSON.stringify(await skeleton(o.child)));
    return;
  }
  const database = `attune_floor_${randomBytes(4).toString('hex')}`;
  const pgBase = pgBaseUrl();
  const dir = mkdtempSync(join(tmpdir(), 'attune-floor-'));
  const script = join(dir, 'noop.sh');
  writeFileSync(script, NOOP_SCRIPT);
  const admin = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  let rows;
  try {
    rows = await measureFloor({ node: o.node, execArgv: o.execArgv, databaseUrl: `${pgBase}/${database}`, amqpUrl: amqpBaseUrl(), executions: o.executions, concurrencies: o.concurrency, script });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
  const version = await nodeVersionOf(o.node);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ node: version, execArgv: o.execArgv, rows }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`skeleton consumer (pg + amqplib), ${version} ${o.execArgv.join(' ')}, ${o.executions} executions per case\n\n`);
  process.stdout.write('| c | table | spawn | skeleton CPU ms/execution (user+sys) | PostgreSQL ms/execution | executions/s | peak RSS MiB |\n|---:|---|---|---:|---:|---:|---:|\n');
  for (const r of rows) process.stdout.write(`| ${r.concurrency} | ${r.schema} | ${r.spawn ? 'yes' : 'no'} | ${r.cpuMsPerExecution} (${r.userMsPerExecution}+${r.sysMsPerExecution}) | ${r.postgresMsPerExecution} | ${r.perSec} | ${r.peakRssMiB ?? '—'} |\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`floor failed: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
  });
}
