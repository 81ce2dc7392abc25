/** The agent as a child process of a reliability test (test/support/chaos.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { randomHex, sleep } from './util';

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
