// Starting and stopping the agent under test, and the "registered and consuming" condition:
// the worker row is `active` AND worker.<id>.executions has a consumer.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { now, procMemory, sleep, stopProcess, suffix } from './util.mjs';

/**
 * How the agent is run: `{ kind: 'sea' | 'node', argv, label }`. `seaPath` is the mounted
 * single executable (or null); `cpuProfDir` runs the bundle under `node --cpu-prof` instead;
 * `bundle` replaces dist/attune-agent.cjs (a scratch build); `nodePath` another Node binary.
 */
export function agentLauncher(root, { seaPath = null, cpuProfDir = null, bundle = null, nodePath = null } = {}) {
  const node = nodePath ?? process.execPath;
  const nodeVersion = nodePath ? nodePath : `Node ${process.versions.node}`;
  const file = bundle ?? join(root, 'dist', 'attune-agent.cjs');
  const shown = bundle ?? 'dist/attune-agent.cjs';
  if (cpuProfDir) {
    return { kind: 'node', argv: [node, '--cpu-prof', '--cpu-prof-dir', cpuProfDir, file], label: `node --cpu-prof ${shown} (${nodeVersion})` };
  }
  if (seaPath) return { kind: 'sea', argv: [seaPath], label: `single executable dist/agent-linux-${process.arch}/attune-agent (mounted at ${seaPath})` };
  return { kind: 'node', argv: [node, file], label: `node ${shown} (${nodeVersion})` };
}

/**
 * The single executable's pinned Node binary as `npm run build:sea` caches it (its version from
 * package.json `seaNode`), or null when it has not been fetched on this machine.
 */
export function pinnedNodePath(root, arch = process.arch) {
  const { seaNode } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const bin = join(process.env.ATTUNE_AGENT_CACHE_DIR || join(root, '.cache'), 'sea', `node-v${seaNode.version}-linux-${arch}`, 'node');
  return existsSync(bin) ? bin : null;
}

/** The JWT secret of the bench's agents (ATTUNE__SECURITY__JWT_SECRET), for the fake Attune APIs. */
export const BENCH_JWT_SECRET = 'bench-jwt-secret';

/** The environment every agent process gets: a clean base plus its configuration (ATTUNE__…). */
export function agentEnv(ctx, extra = {}) {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    ATTUNE__DATABASE__URL: ctx.databaseUrl,
    ATTUNE__MESSAGE_QUEUE__URL: ctx.amqpUrl,
    ATTUNE__SECURITY__JWT_SECRET: BENCH_JWT_SECRET,
    ATTUNE__SECURITY__ENCRYPTION_KEY: ctx.encryptionKey,
    ATTUNE__PACKS_BASE_DIR: ctx.packsDir,
    ATTUNE__RUNTIME_ENVS_DIR: join(ctx.work, 'runtime_envs'),
    ATTUNE__ARTIFACTS_DIR: join(ctx.work, 'artifacts'),
    ATTUNE__PACKS__TRANSPORT: 'volume',
    ATTUNE__ARTIFACTS__TRANSPORT: 'volume',
    ATTUNE__WORKER__SHUTDOWN_TIMEOUT: '30',
    ATTUNE__AGENT__STARTUP_TIMEOUT: '30',
    ...ctx.agentEnv,
    ...extra,
  };
}

export class RunningAgent {
  constructor(child, name, startedAt, logPath) {
    this.child = child;
    this.name = name;
    this.startedAt = startedAt;
    this.logPath = logPath;
    this.workerId = null;
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A failed spawn (ENOENT …) emits 'error' and no 'exit'.
      child.once('error', (e) => resolve({ code: null, signal: null, error: e.message }));
    });
  }

  get pid() {
    return this.child.pid;
  }

  memory() {
    return procMemory(this.child.pid);
  }

  /**
   * Poll (every `intervalMs`) until the worker row is active and its executions queue has a
   * consumer; returns the ms from spawn. Throws when the agent exits first.
   */
  async waitReady(harness, { timeoutMs = 60_000, intervalMs = 5 } = {}) {
    let exitedWith = null;
    this.exit.then((e) => (exitedWith = e));
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      if (exitedWith) throw new Error(`agent ${this.name} exited (${JSON.stringify(exitedWith)}) before it was ready; log: ${this.logPath}`);
      if (this.workerId === null) {
        const r = await harness.cp.query('SELECT id, status FROM worker WHERE name = $1', [this.name]).catch(() => null);
        const row = r?.rows[0];
        if (row && row.status === 'active') this.workerId = Number(row.id);
      }
      if (this.workerId !== null) {
        const consumers = await harness.consumerCount(`worker.${this.workerId}.executions`);
        if (consumers !== null && consumers > 0) return now() - this.startedAt;
      }
      await sleep(intervalMs);
    }
    throw new Error(`agent ${this.name} not registered and consuming within ${timeoutMs} ms; log: ${this.logPath}`);
  }

  async stop() {
    const r = await stopProcess(this.child, { graceMs: 30_000 });
    if (r.code !== 0) throw new Error(`agent ${this.name} stopped with ${JSON.stringify(r)}; log: ${this.logPath}`);
    return r;
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Spawn `attune-agent run --name <name>`; its log goes to a file in the work dir. */
export function startAgent(ctx, { tag, maxConcurrent = null, extraEnv = {} } = {}) {
  const name = `bench-${tag}-${suffix(6)}`;
  const logPath = join(ctx.work, `agent-${name}.log`);
  const fd = openSync(logPath, 'a');
  const env = agentEnv(ctx, maxConcurrent === null ? extraEnv : { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: String(maxConcurrent), ...extraEnv });
  const [cmd, ...args] = ctx.agent.argv;
  const startedAt = now();
  const child = spawn(cmd, [...args, 'run', '--name', name], { cwd: ctx.work, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const agent = new RunningAgent(child, name, startedAt, logPath);
  ctx.agents.add(agent);
  agent.exit.then(() => ctx.agents.delete(agent));
  return agent;
}

/** Start an agent and wait until it consumes; returns { agent, readyMs }. */
export async function startReadyAgent(ctx, opts) {
  const agent = startAgent(ctx, opts);
  try {
    const readyMs = await agent.waitReady(ctx.harness);
    return { agent, readyMs };
  } catch (e) {
    agent.kill();
    throw e;
  }
}
