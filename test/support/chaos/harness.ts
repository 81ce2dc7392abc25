/** The per-test-file workspace and agent harness (test/support/chaos.ts). */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestVhost, type TestVhost } from '../amqp';
import { AgentProcess, type AgentConfig } from './agent-process';
import { agentBundle } from './bundle';
import { BusRecorder, Dispatcher, queueConsumers } from './bus';
import { createChaosDatabase, type ChaosDatabase } from './database';
import type { PrivatePostgres } from './postgres';
import { randomHex, tail, waitFor } from './util';

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
