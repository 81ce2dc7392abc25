/**
 * Helpers for the reliability tier (test/reliability/**): the real agent bundle as a child
 * process, a PRIVATE PostgreSQL instance that a test may restart (never the machine's shared
 * cluster), a throwaway RabbitMQ vhost whose connections a test may close, a stand-in for
 * Attune's API + executor that survives those faults (bulk execution rows, confirmed dispatches
 * with retry, a durable recorder of the agent's messages), and process inspection (/proc) to
 * find what an action left behind.
 *
 * Everything lives under one temp dir per test file (`ChaosWorkspace`); `dispose()` stops the
 * agent, the private PostgreSQL and deletes the vhost and the dir.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  chownSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import { build } from 'esbuild';
import pg from 'pg';
import { envelope } from './agent';
import { stringify as toYaml } from 'yaml';
import { applySchema } from '../../scripts/apply-schema.mjs';
import { encryptJsonValue, encryptionKeyHash } from '../../src/secrets/crypto';
import { createTestVhost, rabbitmqctl, testAmqpBaseUrl, type TestVhost } from './amqp';
import { adminQuery, dropDatabase, quoteIdent, randomDatabaseName, testDatabaseUrl } from './db';

const execFileP = promisify(execFile);

export const REPO_ROOT = resolve(__dirname, '..', '..');

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function randomHex(bytes = 5): string {
  return randomBytes(bytes).toString('hex');
}

/** Poll `fn` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs: number, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ the agent bundle

let bundlePromise: Promise<string> | null = null;
let bundleDir: string | null = null;

/**
 * The agent bundled from the current src/ (same esbuild settings as scripts/build.mjs) into a
 * temp dir — not dist/, which other tiers may be rebuilding at the same time.
 * `ATTUNE_RELIABILITY_BUNDLE=/path/attune-agent.cjs` uses a prebuilt bundle instead.
 */
export function agentBundle(): Promise<string> {
  const given = process.env.ATTUNE_RELIABILITY_BUNDLE;
  if (given) return Promise.resolve(resolve(given));
  bundlePromise ??= (async () => {
    bundleDir = mkdtempSync(join(tmpdir(), 'attune-chaos-bundle-'));
    const outfile = join(bundleDir, 'attune-agent.cjs');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    await build({
      entryPoints: [join(REPO_ROOT, 'src', 'main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      sourcemap: false,
      legalComments: 'none',
      define: { __ATTUNE_AGENT_VERSION__: JSON.stringify(pkg.version) },
      external: ['pg-native'],
      logLevel: 'warning',
    });
    return outfile;
  })();
  return bundlePromise;
}

export function removeAgentBundle(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  bundleDir = null;
  bundlePromise = null;
}

// ------------------------------------------------------------------ private PostgreSQL

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolvePort(port));
    });
  });
}

function pgBinDir(): string {
  if (process.env.ATTUNE_TEST_PG_BIN) return process.env.ATTUNE_TEST_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/<version>/bin (apt-get install postgresql), or set ATTUNE_TEST_PG_BIN');
}

/**
 * A PostgreSQL server of our own (initdb into a temp dir, trust auth, loopback + a private
 * socket dir, random free port): the only server a reliability test ever restarts. initdb
 * refuses to run as root, so as root everything runs as the `postgres` user.
 */
export class PrivatePostgres {
  restarts = 0;
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const bin = pgBinDir();
    const dir = mkdtempSync(join(tmpdir(), 'attune-chaos-pg-'));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dir, pgUid(), pgGid());
    const port = await freePort();
    const pgs = new PrivatePostgres(dir, port, bin);
    await pgs.run('initdb', ['-D', pgs.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pgs.pgStart();
    return pgs;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** URL of database `db` on this server. */
  url(db = 'postgres', password?: string): string {
    return `postgresql://postgres${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${this.port}/${db}`;
  }

  /** `pg_ctl stop -m fast` (active transactions are aborted, clients disconnected), `downMs` of outage, start again. */
  async restart(downMs = 0): Promise<void> {
    await this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', 'fast', 'stop']);
    if (downMs > 0) await sleep(downMs);
    await this.pgStart();
    this.restarts++;
  }

  async stop(): Promise<void> {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    await this.run('pg_ctl', ['-D', this.dataDir, '-w', '-t', '60', '-m', 'immediate', 'stop']).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pgStart(): Promise<void> {
    const opts = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=200`;
    await this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start']);
  }

  private async run(tool: string, args: string[]): Promise<void> {
    const cmd = join(this.bin, tool);
    const [file, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    try {
      await execFileP(file, argv, { timeout: 120_000, cwd: this.dir });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`, { cause: e });
    }
  }
}

function pgUid(): number {
  return Number(lookupPasswd('postgres')?.uid ?? NaN);
}

function pgGid(): number {
  return Number(lookupPasswd('postgres')?.gid ?? NaN);
}

export function lookupPasswd(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

// ------------------------------------------------------------------ databases

export interface ChaosDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * A fresh database with the development schema: on the private server when given, else on the
 * shared test server (test/support/db.ts conventions).
 */
export async function createChaosDatabase(server?: PrivatePostgres): Promise<ChaosDatabase> {
  const name = randomDatabaseName('attune_chaos');
  const url = server ? server.url(name) : testDatabaseUrl(name);
  await applySchema({ url });
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, options: '-c search_path=attune,public' });
  pool.on('connect', (c) => c.on('error', () => undefined));
  pool.on('error', () => undefined);
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      if (server) return; // the whole private server goes with its dir
      await dropDatabase(name);
    },
  };
}

/** `pool.query` retried through outages (the private server may be restarting). */
export async function queryRetry<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
  timeoutMs = 120_000,
): Promise<pg.QueryResult<R>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await pool.query<R>(sql, params);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

// ------------------------------------------------------------------ packs

export interface ActionDef {
  /** Short name; the ref is `<packRef>.<name>`. */
  name: string;
  /** Entrypoint as stored (relative to `actions/`; may be hostile). */
  entrypoint: string;
  runner?: 'shell' | 'python' | 'node';
  parameterDelivery?: 'stdin' | 'file';
  parameterFormat?: 'json' | 'dotenv' | 'yaml';
  outputFormat?: 'text' | 'json' | 'yaml' | 'jsonl';
  timeoutSec?: number | null;
  paramSchema?: unknown;
  outSchema?: unknown;
}

export interface PackDef {
  ref: string;
  /** Files relative to the pack root (e.g. `actions/work.sh`), executable when under actions/. */
  files: Record<string, string>;
  actions: ActionDef[];
}

export interface InstalledPack {
  packRef: string;
  packId: number;
  releaseId: number;
  digest: string;
  /** `{packsDir}/.releases/sha256/<digest>/pack` (what the agent runs from). */
  releasePackDir: string;
  actions: Map<string, { id: number; ref: string; row: Record<string, unknown> }>;
}

const RUNNER_RUNTIME: Record<string, string> = { shell: 'core.shell', python: 'core.python', node: 'core.nodejs' };

/** Write the pack source, install it as a pinned release (like the API) and insert its rows. */
export async function installPack(pool: pg.Pool, packsDir: string, def: PackDef): Promise<InstalledPack> {
  const src = mkdtempSync(join(tmpdir(), 'attune-chaos-packsrc-'));
  try {
    writeFileSync(join(src, 'pack.yaml'), toYaml({ ref: def.ref, label: def.ref, version: '1.0.0', enabled: true }));
    mkdirSync(join(src, 'actions'), { recursive: true });
    for (const [rel, content] of Object.entries(def.files)) {
      const file = join(src, rel);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content, { mode: rel.startsWith('actions/') ? 0o755 : 0o644 });
    }
    const tarball = join(src, '..', `${def.ref}-${randomHex()}.tar.gz`);
    await execFileP('tar', ['-czf', tarball, '-C', src, '.']);
    const digest = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    const releaseDir = join(packsDir, '.releases', 'sha256', digest);
    mkdirSync(releaseDir, { recursive: true });
    cpSync(tarball, join(releaseDir, 'pack.tar.gz'));
    rmSync(tarball, { force: true });
    cpSync(src, join(releaseDir, 'pack'), { recursive: true });

    const pack = await pool.query<{ id: string }>(
      `INSERT INTO pack (ref, label, version) VALUES ($1, $1, '1.0.0')
       ON CONFLICT (ref) DO UPDATE SET version = EXCLUDED.version RETURNING id`,
      [def.ref],
    );
    const packId = Number(pack.rows[0]?.id);
    const release = await pool.query<{ id: string }>(
      `INSERT INTO pack_release (pack, pack_ref, version, digest, content_path, archive_size, manifest)
       VALUES ($1, $2, '1.0.0', $3, $4, $5, $6)
       ON CONFLICT (pack, version) DO UPDATE SET digest = EXCLUDED.digest, content_path = EXCLUDED.content_path
       RETURNING id`,
      [packId, def.ref, digest, join(releaseDir, 'pack'), statSync(join(releaseDir, 'pack.tar.gz')).size, { ref: def.ref }],
    );
    const releaseId = Number(release.rows[0]?.id);
    await pool.query('UPDATE pack SET active_release = $2 WHERE id = $1', [packId, releaseId]);
    const actions = new Map<string, { id: number; ref: string; row: Record<string, unknown> }>();
    for (const a of def.actions) {
      const runtime = await pool.query<{ id: string }>('SELECT id FROM runtime WHERE ref = $1', [RUNNER_RUNTIME[a.runner ?? 'shell']]);
      const ref = `${def.ref}.${a.name}`;
      const row = await pool.query(
        `INSERT INTO action (ref, pack, pack_ref, label, entrypoint, runtime, param_schema, out_schema,
            parameter_delivery, parameter_format, output_format, timeout_seconds)
         VALUES ($1,$2,$3,$1,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING *`,
        [
          ref,
          packId,
          def.ref,
          a.entrypoint,
          runtime.rows[0]?.id ?? null,
          a.paramSchema ?? null,
          a.outSchema ?? null,
          a.parameterDelivery ?? 'stdin',
          a.parameterFormat ?? 'json',
          a.outputFormat ?? 'text',
          a.timeoutSec ?? null,
        ],
      );
      const r = row.rows[0] as Record<string, unknown>;
      actions.set(a.name, { id: Number(r.id), ref, row: r });
    }
    return { packRef: def.ref, packId, releaseId, digest, releasePackDir: join(releaseDir, 'pack'), actions };
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

/** Upstream's secret marker in a redacted `execution.config` (spec 04 §6.2). */
export const SECRET_MARKER = { $attune_secret: true, redacted: true };

export interface NewExecution {
  action: string;
  parameters?: Record<string, unknown>;
  /** Top-level parameter names → clear values, stored encrypted (needs `encryptionKey`). */
  secrets?: Record<string, unknown>;
  timeoutSec?: number | null;
  envVars?: Record<string, string> | null;
}

export interface CreatedExecution {
  id: number;
  actionRef: string;
}

/**
 * Insert executions as the executor leaves them before dispatch: `scheduled`, worker set,
 * release pinned, executable snapshot filled (spec 04 §3.6). One multi-row INSERT per call.
 */
export async function createExecutions(
  pool: pg.Pool,
  pack: InstalledPack,
  workerId: number,
  items: NewExecution[],
  opts: { encryptionKey?: string } = {},
): Promise<CreatedExecution[]> {
  const runtimes = new Map<number, unknown>();
  const out: CreatedExecution[] = [];
  const BATCH = 500;
  for (let start = 0; start < items.length; start += BATCH) {
    const batch = items.slice(start, start + BATCH);
    const values: string[] = [];
    const params: unknown[] = [];
    for (const it of batch) {
      const action = pack.actions.get(it.action);
      if (!action) throw new Error(`no action ${it.action} in pack ${pack.packRef}`);
      const runtimeId = action.row.runtime === null ? null : Number(action.row.runtime);
      if (runtimeId !== null && !runtimes.has(runtimeId)) {
        runtimes.set(runtimeId, (await pool.query('SELECT * FROM runtime WHERE id = $1', [runtimeId])).rows[0] ?? null);
      }
      const snapshot = {
        release: { id: pack.releaseId, digest: pack.digest, content_path: pack.releasePackDir },
        executable: {
          action: { ...action.row, enabled: true },
          runtime: runtimeId === null ? null : runtimes.get(runtimeId),
          runtime_versions: [],
          workflow_definition: null,
        },
        pack_executables: {},
      };
      const config: Record<string, unknown> = { ...(it.parameters ?? {}) };
      for (const name of Object.keys(it.secrets ?? {})) config[name] = SECRET_MARKER;
      const b = params.length;
      values.push(`($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8},'scheduled',$${b + 9})`);
      params.push(action.id, action.ref, pack.releaseId, pack.digest, JSON.stringify(snapshot), JSON.stringify(config), it.envVars ? JSON.stringify(it.envVars) : null, workerId, it.timeoutSec ?? null);
    }
    const res = await pool.query<{ id: string; action_ref: string }>(
      `INSERT INTO execution (action, action_ref, pack_release, pack_release_digest, executable_snapshot, config, env_vars, worker, status, timeout_seconds)
       VALUES ${values.join(',')} RETURNING id, action_ref`,
      params,
    );
    for (const r of res.rows) out.push({ id: Number(r.id), actionRef: r.action_ref });
    for (let i = 0; i < batch.length; i++) {
      const secrets = batch[i]?.secrets ?? {};
      const id = out[start + i]?.id as number;
      for (const [name, value] of Object.entries(secrets)) {
        if (!opts.encryptionKey) throw new Error('secrets need an encryptionKey');
        const key = opts.encryptionKey;
        await pool.query(
          `INSERT INTO execution_secret_value (entity_type, entity_id, json_path, source_kind, encrypted_value, encryption_key_hash)
           VALUES ('execution_config', $1, $2, 'parameter_schema', $3, $4)`,
          [id, `/${name}`, JSON.stringify(encryptJsonValue(value, key)), encryptionKeyHash(key)],
        );
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------ RabbitMQ: dispatcher and recorder

/** An envelope as upstream producers write it (spec 02 §3.1): the control plane harness's one. */
export { envelope };

async function assertExecutionsExchange(ch: amqp.Channel): Promise<void> {
  // Same flags as the agent's own declaration (spec 02 §2.1), so neither side conflicts.
  await ch.assertExchange('attune.executions', 'topic', { durable: true, autoDelete: false, internal: false });
}

/**
 * Publishes like the executor, with broker confirms, and retries until confirmed — through
 * closed connections (a message whose confirm was lost may then reach the agent twice; the
 * agent must cope, and `retries` counts those attempts).
 */
export class Dispatcher {
  retries = 0;
  private conn: amqp.ChannelModel | null = null;
  private ch: amqp.ConfirmChannel | null = null;
  private opening: Promise<amqp.ConfirmChannel> | null = null;
  private closed = false;

  constructor(private readonly url: string) {}

  private channel(): Promise<amqp.ConfirmChannel> {
    if (this.ch) return Promise.resolve(this.ch);
    this.opening ??= (async () => {
      try {
        const conn = await amqp.connect(this.url);
        conn.on('error', () => undefined);
        const ch = await conn.createConfirmChannel();
        ch.on('error', () => undefined);
        await assertExecutionsExchange(ch);
        const drop = (): void => {
          if (this.ch === ch) this.ch = null;
          if (this.conn === conn) this.conn = null;
        };
        conn.on('close', drop);
        ch.on('close', drop);
        this.conn = conn;
        this.ch = ch;
        return ch;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  async publish(routingKey: string, body: unknown, timeoutMs = 120_000): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('dispatcher closed');
      try {
        const ch = await this.channel();
        await new Promise<void>((res, rej) => {
          const t = setTimeout(() => rej(new Error('no confirm within 10 s')), 10_000);
          try {
            ch.publish('attune.executions', routingKey, content, { contentType: 'application/json', deliveryMode: 2 }, (err) => {
              clearTimeout(t);
              if (err) rej(err instanceof Error ? err : new Error(String(err)));
              else res();
            });
          } catch (e) {
            clearTimeout(t);
            rej(e as Error);
          }
        });
        return;
      } catch (e) {
        this.ch = null;
        if (Date.now() > deadline) throw new Error(`publish ${routingKey} failed for ${timeoutMs} ms: ${(e as Error).message}`);
        this.retries++;
        await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      }
    }
  }

  async dispatch(executionId: number, workerId: number, pack: Pick<InstalledPack, 'releaseId' | 'digest'>, actionRef: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await this.publish(
      `execution.dispatch.worker.${workerId}`,
      envelope(
        'ExecutionRequested',
        {
          execution_id: executionId,
          worker_id: workerId,
          action_ref: actionRef,
          config: null,
          scheduled_attempt_updated_at: new Date().toISOString(),
          release_id: pack.releaseId,
          release_digest: pack.digest,
          ...overrides,
        },
        'executor',
      ),
    );
  }

  async cancel(executionId: number, workerId: number): Promise<void> {
    await this.publish(`execution.cancel.worker.${workerId}`, envelope('ExecutionCancelRequested', { execution_id: executionId, worker_id: workerId }, 'api-service'));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.conn?.close().catch(() => undefined);
  }
}

export interface RecordedMessage {
  routingKey: string;
  messageId: string;
  body: { message_type?: string; payload?: Record<string, unknown>; [k: string]: unknown };
  receivedAt: number;
}

/**
 * Records `execution.completed` / `execution.status.changed` on a durable, non-exclusive queue
 * of its own, so nothing is missed while its connection is being closed by a fault; it
 * reconnects by itself. Broker redeliveries of the same message are recognised by the
 * envelope's `message_id` and counted once (`redeliveries` counts the extra copies).
 */
export class BusRecorder {
  readonly messages: RecordedMessage[] = [];
  redeliveries = 0;
  reconnects = 0;
  private readonly seen = new Set<string>();
  private readonly queue = `chaos.recorder.${randomHex()}`;
  private conn: amqp.ChannelModel | null = null;
  private closed = false;
  private listeners = new Set<(m: RecordedMessage) => void>();

  constructor(private readonly url: string) {}

  async start(): Promise<this> {
    await this.connect();
    return this;
  }

  onMessage(fn: (m: RecordedMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await assertExecutionsExchange(ch);
    await ch.assertQueue(this.queue, { durable: true, exclusive: false, autoDelete: false });
    await ch.bindQueue(this.queue, 'attune.executions', 'execution.completed');
    await ch.bindQueue(this.queue, 'attune.executions', 'execution.status.changed');
    await ch.prefetch(500);
    await ch.consume(this.queue, (msg) => {
      if (!msg) return;
      let body: RecordedMessage['body'];
      try {
        body = JSON.parse(msg.content.toString('utf8')) as RecordedMessage['body'];
      } catch {
        body = { unparsable: msg.content.toString('utf8') };
      }
      const messageId = typeof body.message_id === 'string' ? body.message_id : `nomid-${randomUUID()}`;
      if (this.seen.has(messageId)) this.redeliveries++;
      else {
        this.seen.add(messageId);
        const rec = { routingKey: msg.fields.routingKey, messageId, body, receivedAt: Date.now() };
        this.messages.push(rec);
        for (const l of this.listeners) l(rec);
      }
      try {
        ch.ack(msg);
      } catch {
        /* channel gone: redelivered, deduplicated above */
      }
    });
    conn.on('close', () => {
      if (this.conn === conn) this.conn = null;
      if (!this.closed) void this.reconnectLoop();
    });
    this.conn = conn;
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      try {
        await this.connect();
        this.reconnects++;
        return;
      } catch {
        /* broker still refusing; try again */
      }
    }
  }

  completionsFor(executionId: number): RecordedMessage[] {
    return this.messages.filter((m) => m.routingKey === 'execution.completed' && m.body.payload?.execution_id === executionId);
  }

  statusesFor(executionId: number): RecordedMessage[] {
    return this.messages.filter((m) => m.routingKey === 'execution.status.changed' && m.body.payload?.execution_id === executionId);
  }

  /** execution id → number of distinct ExecutionCompleted messages. */
  completionCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const m of this.messages) {
      if (m.routingKey !== 'execution.completed') continue;
      const id = Number(m.body.payload?.execution_id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  async waitForCompletions(ids: number[], timeoutMs: number): Promise<void> {
    await waitFor(`ExecutionCompleted for ${ids.length} executions`, () => ids.every((id) => this.completionsFor(id).length > 0), timeoutMs, 50);
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = null;
    if (conn) {
      try {
        const ch = await conn.createChannel();
        await ch.deleteQueue(this.queue).catch(() => undefined);
      } catch {
        /* vhost deletion removes it anyway */
      }
      await conn.close().catch(() => undefined);
    }
  }
}

/** Consumers on a queue of the vhost (0 when it does not exist yet). */
export async function queueConsumers(url: string, queue: string): Promise<number> {
  const conn = await amqp.connect(url);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const q = await ch.checkQueue(queue);
    return q.consumerCount;
  } catch {
    return 0;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

// ------------------------------------------------------------------ the agent process

export interface AgentConfig {
  name: string;
  databaseUrl: string;
  amqpUrl: string;
  packsDir: string;
  artifactsDir: string;
  runtimeEnvsDir: string;
  encryptionKey?: string;
  jwtSecret?: string;
  maxConcurrentTasks?: number;
  shutdownTimeoutSec?: number;
  healthPort?: number;
  /** Extra / overriding environment (ATTUNE__… keys, TMPDIR, …). */
  env?: Record<string, string>;
  /** Working directory (no config.yaml there); default the workspace dir. */
  cwd: string;
  /** Start the agent process itself as this user (tests of a non-root agent). */
  spawnAs?: { uid: number; gid: number };
}

/** The environment the agent starts with: a container-like minimum plus its configuration. */
export function agentEnvironment(cfg: AgentConfig): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ', 'PYENV_ROOT', 'PYENV_VERSION'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  Object.assign(env, {
    ATTUNE__DATABASE__URL: cfg.databaseUrl,
    ATTUNE__MESSAGE_QUEUE__URL: cfg.amqpUrl,
    ATTUNE__SECURITY__JWT_SECRET: cfg.jwtSecret ?? `jwt-${randomHex(8)}`,
    ATTUNE__PACKS_BASE_DIR: cfg.packsDir,
    ATTUNE__ARTIFACTS_DIR: cfg.artifactsDir,
    ATTUNE__RUNTIME_ENVS_DIR: cfg.runtimeEnvsDir,
    ATTUNE__PACKS__TRANSPORT: 'volume',
    ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
    ATTUNE__WORKER__NAME: cfg.name,
    ATTUNE__WORKER__MAX_CONCURRENT_TASKS: String(cfg.maxConcurrentTasks ?? 8),
    ATTUNE__WORKER__SHUTDOWN_TIMEOUT: String(cfg.shutdownTimeoutSec ?? 10),
    ATTUNE__WORKER__HEARTBEAT_INTERVAL: '5',
    ATTUNE__AGENT__STARTUP_TIMEOUT: '60',
    // Detection probes only what the tests use (start-up stays ~1 s, which matters with restarts).
    ATTUNE_WORKER_RUNTIMES: 'shell,python',
  });
  if (cfg.encryptionKey) env.ATTUNE__SECURITY__ENCRYPTION_KEY = cfg.encryptionKey;
  if (cfg.healthPort !== undefined) {
    env.ATTUNE__AGENT__HEALTH_PORT = String(cfg.healthPort);
    env.ATTUNE__AGENT__HEALTH_HOST = '127.0.0.1';
  }
  Object.assign(env, cfg.env ?? {});
  return env;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One process of the agent (`node <bundle> run`), its output appended to `logFile`. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<AgentExit>;
  exit: AgentExit | null = null;
  private readonly out: WriteStream;

  constructor(
    bundle: string,
    readonly cfg: AgentConfig,
    readonly logFile: string,
  ) {
    this.out = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(process.execPath, [bundle, 'run'], {
      cwd: cfg.cwd,
      env: agentEnvironment(cfg),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cfg.spawnAs ? { uid: cfg.spawnAs.uid, gid: cfg.spawnAs.gid } : {}),
    });
    this.child.stdout?.pipe(this.out, { end: false });
    this.child.stderr?.pipe(this.out, { end: false });
    this.exited = new Promise((res) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        res(this.exit);
      }),
    );
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  async waitExit(timeoutMs: number): Promise<AgentExit> {
    const r = await Promise.race([this.exited, sleep(timeoutMs).then(() => null)]);
    if (r === null) throw new Error(`agent pid ${this.pid} did not exit within ${timeoutMs} ms`);
    return r;
  }

  /** Resident set size in KiB (VmRSS), null once gone. */
  rssKiB(): number | null {
    return procRssKiB(this.pid);
  }

  /** Open file descriptors of the agent process. */
  fdCount(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  async flushLog(): Promise<void> {
    await new Promise<void>((r) => this.out.write('', () => r()));
  }

  async closeLog(): Promise<void> {
    await this.exited.catch(() => undefined);
    await new Promise<void>((r) => this.out.end(() => r()));
  }
}

export function procRssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ /proc inspection

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  args: string;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (after[0] === 'Z') return null; // a zombie has already exited
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(after[1]), pgid: Number(after[2]), args };
  } catch {
    return null;
  }
}

/**
 * Live processes whose environment contains `needle` (e.g. `ATTUNE_PACK_REF=<unique pack>`):
 * every process an action started inherits it, whatever its command line. Needs root (or the
 * same uid) to read /proc/<pid>/environ.
 */
export function processesWithEnv(needle: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  const bytes = Buffer.from(needle);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (env.indexOf(bytes) < 0) continue;
    const info = procInfo(pid);
    if (info) out.push(info);
  }
  return out;
}

/** Live processes whose command line contains `needle` (what `ps -eo args | grep` shows). */
export function processesWithArgs(needle: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const info = procInfo(pid);
    if (info && info.args.includes(needle)) out.push(info);
  }
  return out;
}

/** `ps` as a person would run it, for the figures printed next to the /proc scan. */
export async function psLines(needle: string): Promise<string[]> {
  const { stdout } = await execFileP('ps', ['-eo', 'pid,pgid,stat,args', '--no-headers']);
  return stdout.split('\n').filter((l) => l.includes(needle) && !l.includes(' ps -eo'));
}

/** SIGKILL whatever is left (cleanup only). */
export function killAll(procs: ProcInfo[]): void {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Where each fd of `pid` points (socket:[…], pipe:[…], /path). */
export function fdTargets(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readlinkSync(join(dir, fd)));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

// ------------------------------------------------------------------ the workspace

export interface Workspace {
  dir: string;
  packsDir: string;
  artifactsDir: string;
  runtimeEnvsDir: string;
}

export function createWorkspace(prefix = 'attune-chaos-'): Workspace {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ws = { dir, packsDir: join(dir, 'packs'), artifactsDir: join(dir, 'artifacts'), runtimeEnvsDir: join(dir, 'runtime_envs') };
  for (const d of [ws.packsDir, ws.artifactsDir, ws.runtimeEnvsDir]) mkdirSync(d, { recursive: true });
  return ws;
}

export interface AgentHarness {
  ws: Workspace;
  db: ChaosDatabase;
  vhost: TestVhost;
  amqpUrl: string;
  bundle: string;
  dispatcher: Dispatcher;
  recorder: BusRecorder;
  logFile: string;
  agent: AgentProcess | null;
  workerId: number | null;
  /** Start an agent process (appending to the same log) and wait until it consumes its queue. */
  startAgent(overrides?: Partial<AgentConfig>): Promise<AgentProcess>;
  /** The agent's whole output so far (all processes). */
  readLog(): string;
  dispose(): Promise<void>;
}

export interface HarnessOptions {
  /** Run the database on this private server (else the shared test server). */
  server?: PrivatePostgres;
  agent?: Partial<AgentConfig>;
}

/** A database, a vhost, recorder + dispatcher, and an agent factory — all unique to one test file. */
export async function createHarness(opts: HarnessOptions = {}): Promise<AgentHarness> {
  const ws = createWorkspace();
  const db = await createChaosDatabase(opts.server);
  const vhost = await createTestVhost();
  const amqpUrl = vhost.url;
  const bundle = await agentBundle();
  const recorder = await new BusRecorder(amqpUrl).start();
  const dispatcher = new Dispatcher(amqpUrl);
  const logFile = join(ws.dir, 'agent.log');
  const name = `chaos-agent-${randomHex(4)}`;
  const h: AgentHarness = {
    ws,
    db,
    vhost,
    amqpUrl,
    bundle,
    dispatcher,
    recorder,
    logFile,
    agent: null,
    workerId: null,
    async startAgent(overrides = {}) {
      const cfg: AgentConfig = {
        name,
        databaseUrl: db.url,
        amqpUrl,
        packsDir: ws.packsDir,
        artifactsDir: ws.artifactsDir,
        runtimeEnvsDir: ws.runtimeEnvsDir,
        cwd: ws.dir,
        ...opts.agent,
        ...overrides,
        env: { ...(opts.agent?.env ?? {}), ...(overrides.env ?? {}) },
      };
      const agent = new AgentProcess(bundle, cfg, logFile);
      h.agent = agent;
      const workerId = await waitFor(
        `agent ${cfg.name} to register and consume (log: ${logFile})`,
        async () => {
          if (!agent.alive) throw new Error(`agent exited early with ${JSON.stringify(agent.exit)}; log tail:\n${tail(h.readLog(), 30)}`);
          const w = await db.pool.query<{ id: string; status: string }>('SELECT id, status FROM worker WHERE name = $1', [cfg.name]);
          const row = w.rows[0];
          if (!row || row.status !== 'active') return null;
          const id = Number(row.id);
          return (await queueConsumers(amqpUrl, `worker.${id}.executions`)) > 0 ? id : null;
        },
        90_000,
        100,
      ).catch((e: Error) => {
        if (!agent.alive) throw new Error(`agent exited early with ${JSON.stringify(agent.exit)}; log tail:\n${tail(h.readLog(), 30)}`);
        throw e;
      });
      h.workerId = workerId;
      return agent;
    },
    readLog() {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    },
    async dispose() {
      if (h.agent?.alive) {
        h.agent.kill('SIGKILL');
        await h.agent.exited;
      }
      await h.agent?.closeLog();
      await recorder.close();
      await dispatcher.close();
      await vhost.delete().catch(() => undefined);
      await db.drop().catch(() => undefined);
      if (process.env.ATTUNE_CHAOS_KEEP !== '1') rmSync(ws.dir, { recursive: true, force: true });
      else console.log(`[chaos] kept ${ws.dir}`);
    },
  };
  return h;
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines - 1).join('\n');
}

/** Pino JSON lines of the agent log (non-JSON lines skipped). */
export function logRecords(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      /* partial line */
    }
  }
  return out;
}

/** Rows of `execution` for `ids`: id → { status, result }. */
export async function executionRows(pool: pg.Pool, ids: number[]): Promise<Map<number, { status: string; result: Record<string, unknown> | null }>> {
  const res = await queryRetry<{ id: string; status: string; result: Record<string, unknown> | null }>(
    pool,
    'SELECT id, status, result FROM execution WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(res.rows.map((r) => [Number(r.id), { status: r.status, result: r.result }]));
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

/** Wait until every id has a terminal DB status; returns the rows. */
export async function waitTerminal(pool: pg.Pool, ids: number[], timeoutMs: number): Promise<Map<number, { status: string; result: Record<string, unknown> | null }>> {
  let rows = new Map<number, { status: string; result: Record<string, unknown> | null }>();
  await waitFor(
    `terminal status for ${ids.length} executions`,
    async () => {
      rows = await executionRows(pool, ids);
      return ids.every((id) => TERMINAL.has(rows.get(id)?.status ?? ''));
    },
    timeoutMs,
    200,
  ).catch((e: Error) => {
    const open = ids.filter((id) => !TERMINAL.has(rows.get(id)?.status ?? '')).map((id) => `${id}:${rows.get(id)?.status}`);
    throw new Error(`${e.message}; still open: ${open.slice(0, 20).join(', ')}`);
  });
  return rows;
}

/** Close every client connection of the vhost (never other vhosts' connections). */
export async function closeVhostConnections(vhost: string): Promise<string> {
  return rabbitmqctl('close_all_connections', '--vhost', vhost, 'chaos test: broker connection loss');
}

/** The shared server's admin helpers re-exported for tests that need them. */
export { adminQuery, quoteIdent, testAmqpBaseUrl };

/** Recursively list regular files under `dir` modified at/after `sinceMs` (skipping `skip` dirs). */
export function filesModifiedSince(dir: string, sinceMs: number, skip: (path: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 12 || skip(d)) return;
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (!st) continue;
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile() && st.mtimeMs >= sinceMs && !skip(p)) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** Which of `needles` occur in `file` (files over `maxBytes` are read in part). */
export function fileContains(file: string, needles: string[], maxBytes = 64 * 1024 * 1024): string[] {
  let buf: Buffer;
  try {
    const size = statSync(file).size;
    if (size > maxBytes) return [];
    buf = readFileSync(file);
  } catch {
    return [];
  }
  return needles.filter((n) => buf.indexOf(Buffer.from(n)) >= 0);
}
