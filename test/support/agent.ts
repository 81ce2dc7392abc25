/**
 * End-to-end harness for the agent bundle: one throwaway PostgreSQL database (schema applied),
 * one fresh RabbitMQ vhost, a temp work dir (packs, runtime envs, artifacts), a ControlPlane
 * (scripts/lib/control-plane.mjs: Attune's API + executor stand-in) connected to both, and
 * `node dist/attune-agent.cjs run` processes spawned with the matching ATTUNE__* environment
 * (as scripts/demo.mjs does). Agent stdout is captured as parsed JSON log lines.
 *
 * Usage (one environment per test file):
 *   let e: AgentTestEnv;
 *   beforeAll(async () => { e = await createAgentTestEnv(); });
 *   afterAll(async () => { await e?.cleanup(); });
 *   const agent = await e.startAgent({ env: { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '2' } });
 *
 * `cleanup()` SIGKILLs agents still alive, closes the control plane, deletes the vhost, drops
 * the database (kept with ATTUNE_TEST_KEEP_DB=1) and removes the work dir — also when a test
 * failed. ATTUNE_E2E_VERBOSE=1 echoes the agents' output to the test's stderr.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
// Plain ESM shared with `npm run demo`; its .d.mts declares the exports, ControlPlane below types the class.
import { ControlPlane as ControlPlaneImpl, envelope as envelopeImpl } from '../../scripts/lib/control-plane.mjs';
import { createTestVhost, type TestVhost } from './amqp';
import { spawnAgentProcess, type AgentProcess } from './agent-process';
import { ROOT } from './cli';
import { createTestDatabase, type TestDatabase } from './db';

export const DEMO_PACK_DIR = join(ROOT, 'test', 'fixtures', 'packs', 'demo-test');
export const TEST_ENCRYPTION_KEY = 'e2e-encryption-key-0123456789abcdef';
export const TEST_JWT_SECRET = 'e2e-jwt-secret';

// ---------------------------------------------------------------- ControlPlane typing

export interface RecordedMq {
  routingKey: string;
  body: { message_id?: unknown; correlation_id?: unknown; message_type?: unknown; version?: unknown; timestamp?: unknown; headers?: Record<string, unknown>; payload?: Record<string, unknown> } & Record<string, unknown>;
  properties: amqp.MessageProperties;
  receivedAt: number;
}

export interface InstalledPack {
  packId: number;
  releaseId: number;
  digest: string;
  packRef: string;
  actions: Map<string, Record<string, unknown>>;
}

export interface CreatedExecution {
  id: number;
  releaseId: number | null;
  digest: string | null;
  row: Record<string, unknown>;
}

export interface CreateExecutionInput {
  actionRef: string;
  workerId: number | null;
  parameters?: Record<string, unknown>;
  secrets?: Record<string, unknown>;
  envVars?: Record<string, string> | null;
  timeoutSec?: number | null;
  pinned?: boolean;
  status?: string;
}

/** What scripts/lib/control-plane.mjs offers (kept in step with that file by hand). */
export interface ControlPlane {
  messages: RecordedMq[];
  pool: { query(text: string, params?: unknown[]): Promise<{ rows: Record<string, any>[] }> };
  conn: amqp.Connection;
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, any>[] }>;
  installPack(sourceDir: string): Promise<InstalledPack>;
  createExecution(input: CreateExecutionInput): Promise<CreatedExecution>;
  dispatch(execution: CreatedExecution, workerId: number, overrides?: Record<string, unknown>): Promise<void>;
  cancel(executionId: number, workerId: number): Promise<void>;
  publishRaw(routingKey: string, body: unknown, exchange?: string): Promise<void>;
  completionsFor(executionId: number): RecordedMq[];
  statusMessagesFor(executionId: number): RecordedMq[];
  waitForCompletions(ids: number[], timeoutMs?: number): Promise<void>;
  getExecution(id: number): Promise<Record<string, any> | undefined>;
  getWorkerByName(name: string): Promise<Record<string, any> | undefined>;
  waitForWorker(name: string, timeoutMs?: number): Promise<Record<string, any>>;
  close(): Promise<void>;
}

type ControlPlaneCtor = new (opts: { databaseUrl: string; amqpUrl: string; packsDir: string; encryptionKey?: string }) => ControlPlane & {
  connect(): Promise<ControlPlane>;
};
const ControlPlaneClass = ControlPlaneImpl as unknown as ControlPlaneCtor;

/** An envelope as upstream producers write it (spec 02 §3.1). */
export const envelope = envelopeImpl;

// ---------------------------------------------------------------- agent process (./agent-process.ts)

export type { AgentExit, AgentProcess, LogLine } from './agent-process';

// ---------------------------------------------------------------- environment

export interface StartAgentOptions {
  /** Worker name (`--name`); default a unique `e2e-<random>`. */
  name?: string;
  /** Extra/overriding env; `undefined` removes a variable (e.g. ATTUNE__MESSAGE_QUEUE__URL). */
  env?: Record<string, string | undefined>;
  /** Arguments instead of `run --name <name>`. */
  args?: string[];
  /** argv in front of `node dist/attune-agent.cjs …` (e.g. `unshare --pid --fork`); `pid` is then the launcher's. */
  launcher?: readonly string[];
  /** The Node binary that runs the bundle; default this test process's own. */
  node?: string;
}

export interface AgentTestEnv {
  readonly db: TestDatabase;
  readonly vhost: TestVhost;
  readonly workDir: string;
  readonly packsDir: string;
  readonly artifactsDir: string;
  /** The current control plane (replaced by `reconnectControlPlane()`). */
  readonly cp: ControlPlane;
  /** test/fixtures/packs/demo-test, installed as a pinned release. */
  readonly demoPack: InstalledPack;
  /** A unique worker name: `<prefix>-<random>`. */
  uniqueName(prefix?: string): string;
  /** The env the agent gets: the test process env without ATTUNE*, plus this harness's ATTUNE__* values. */
  agentEnv(overrides?: Record<string, string | undefined>): Record<string, string>;
  /** Spawn without waiting for anything. */
  spawnAgent(opts?: StartAgentOptions): AgentProcess;
  /** Spawn and wait until it consumes executions; returns the process and its worker id. */
  startAgent(opts?: StartAgentOptions & { readyTimeoutMs?: number }): Promise<{ agent: AgentProcess; workerId: number }>;
  /** Create an execution for `actionRef` on `workerId` and publish its dispatch. */
  submit(workerId: number, input: Omit<CreateExecutionInput, 'workerId'>): Promise<CreatedExecution>;
  /** A new ControlPlane (e.g. after the broker closed the old one's connection). */
  reconnectControlPlane(): Promise<ControlPlane>;
  cleanup(): Promise<void>;
}

/** Create the database, vhost, work dir and control plane, and install the demo pack. */
export async function createAgentTestEnv(): Promise<AgentTestEnv> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const agents: AgentProcess[] = [];
  const runCleanups = async (): Promise<void> => {
    for (const a of agents) a.kill();
    await Promise.all(agents.map((a) => Promise.race([a.exited, new Promise((r) => setTimeout(r, 5000))])));
    const errors: unknown[] = [];
    while (cleanups.length > 0) {
      const fn = cleanups.pop() as () => Promise<void> | void;
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw new Error(`e2e cleanup failed: ${errors.map((e) => (e as Error).message).join('; ')}`);
  };

  try {
    const workDir = mkdtempSync(join(tmpdir(), 'attune-e2e-'));
    // An agent SIGKILLed above may leave a detached child (a venv being built for a
    // pack.registered) writing into the work dir; stop those first (their command lines name the
    // work dir), then remove it, retrying while a dying writer still races rm (ENOTEMPTY).
    cleanups.push(() => {
      spawnSync('pkill', ['-KILL', '-f', workDir]);
      rmSync(workDir, { recursive: true, force: true, maxRetries: 50, retryDelay: 200 });
    });
    const packsDir = join(workDir, 'packs');
    const artifactsDir = join(workDir, 'artifacts');
    const runtimeEnvsDir = join(workDir, 'runtime_envs');
    for (const d of [packsDir, artifactsDir, runtimeEnvsDir]) mkdirSync(d, { recursive: true });

    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const vhost = await createTestVhost();
    cleanups.push(() => vhost.delete());

    const newControlPlane = async (): Promise<ControlPlane> => {
      const cp = await new ControlPlaneClass({ databaseUrl: db.url, amqpUrl: vhost.url, packsDir, encryptionKey: TEST_ENCRYPTION_KEY }).connect();
      return cp;
    };
    let cp = await newControlPlane();
    const cpCleanup = async (): Promise<void> => {
      await cp.close();
    };
    cleanups.push(cpCleanup);
    const demoPack = await cp.installPack(DEMO_PACK_DIR);

    const agentEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string> => {
      const env: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (k.startsWith('ATTUNE') || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
        env[k] = v;
      }
      Object.assign(env, {
        ATTUNE__DATABASE__URL: db.url,
        ATTUNE__DATABASE__MAX_CONNECTIONS: '10',
        ATTUNE__DATABASE__MIN_CONNECTIONS: '0',
        ATTUNE__MESSAGE_QUEUE__URL: vhost.url,
        ATTUNE__SECURITY__JWT_SECRET: TEST_JWT_SECRET,
        ATTUNE__SECURITY__ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        ATTUNE__PACKS_BASE_DIR: packsDir,
        ATTUNE__RUNTIME_ENVS_DIR: runtimeEnvsDir,
        ATTUNE__ARTIFACTS_DIR: artifactsDir,
        ATTUNE__PACKS__TRANSPORT: 'volume',
        ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
        ATTUNE__WORKER__HEARTBEAT_INTERVAL: '2',
        ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '5',
        ATTUNE__AGENT__STARTUP_TIMEOUT: '15',
        ...overrides,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
      return out;
    };

    const uniqueName = (prefix = 'e2e'): string => `${prefix}-${randomBytes(4).toString('hex')}`;

    const spawnAgent = (opts: StartAgentOptions = {}): AgentProcess => {
      const name = opts.name ?? uniqueName();
      const args = opts.args ?? ['run', '--name', name];
      // cwd = work dir: no stray ./config.yaml from the repository is picked up.
      const agent = spawnAgentProcess(name, args, agentEnv(opts.env), workDir, opts.launcher, opts.node);
      agents.push(agent);
      return agent;
    };

    const env: AgentTestEnv = {
      db,
      vhost,
      workDir,
      packsDir,
      artifactsDir,
      get cp() {
        return cp;
      },
      demoPack,
      uniqueName,
      agentEnv,
      spawnAgent,
      async startAgent(opts = {}) {
        const agent = spawnAgent(opts);
        const workerId = await agent.ready(opts.readyTimeoutMs ?? 30_000);
        return { agent, workerId };
      },
      async submit(workerId, input) {
        const ex = await cp.createExecution({ ...input, workerId });
        await cp.dispatch(ex, workerId);
        return ex;
      },
      async reconnectControlPlane() {
        const old = cp;
        cp = await newControlPlane();
        await old.close().catch(() => undefined);
        return cp;
      },
      cleanup: runCleanups,
    };
    return env;
  } catch (e) {
    await runCleanups().catch(() => undefined);
    throw e;
  }
}

// ---------------------------------------------------------------- helpers for assertions

/** Poll `fn` until it returns a value that is not undefined/false; throws after `timeoutMs`. */
export async function pollUntil<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition', intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout', 'abandoned']);

/** Wait until the execution row has one of `statuses` (default: any terminal status). */
export async function waitForRowStatus(cp: ControlPlane, id: number, statuses: readonly string[] | null = null, timeoutMs = 30_000): Promise<Record<string, any>> {
  return pollUntil(
    async () => {
      const row = await cp.getExecution(id);
      if (!row) return undefined;
      const ok = statuses ? statuses.includes(row.status as string) : TERMINAL.has(row.status as string);
      return ok ? row : undefined;
    },
    timeoutMs,
    `execution ${id} to reach ${statuses ? statuses.join('/') : 'a terminal status'}`,
  );
}

/**
 * Records what the agent publishes on a durable, named queue (not an exclusive one), so nothing
 * is lost while the broker closes every connection of the vhost. `drain()` reads everything
 * that arrived so far on a fresh connection.
 */
export interface DurableRecorder {
  readonly queue: string;
  drain(): Promise<RecordedMq[]>;
  delete(): Promise<void>;
}

export async function createDurableRecorder(url: string, bindings: { exchange: string; routingKey: string }[]): Promise<DurableRecorder> {
  const queue = `e2e.recorder.${randomBytes(4).toString('hex')}`;
  const withChannel = async <T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> => {
    const conn = await amqp.connect(url);
    conn.on('error', () => undefined);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      return await fn(ch);
    } finally {
      await conn.close().catch(() => undefined);
    }
  };
  await withChannel(async (ch) => {
    await ch.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false });
    for (const b of bindings) await ch.bindQueue(queue, b.exchange, b.routingKey);
  });
  const seen: RecordedMq[] = [];
  return {
    queue,
    drain: () =>
      withChannel(async (ch) => {
        for (;;) {
          const m = await ch.get(queue, { noAck: true });
          if (m === false) break;
          let body: RecordedMq['body'];
          try {
            body = JSON.parse(m.content.toString('utf8')) as RecordedMq['body'];
          } catch {
            body = { unparsable: m.content.toString('utf8') };
          }
          seen.push({ routingKey: m.fields.routingKey, body, properties: m.properties, receivedAt: Date.now() });
        }
        return [...seen];
      }),
    delete: () => withChannel(async (ch) => void (await ch.deleteQueue(queue))),
  };
}
