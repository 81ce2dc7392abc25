/**
 * Running one environment setup command (venv creation, pip/npm install): spec 03 §3.4, §6.2.
 * Like upstream the command runs with `shell: false` in its own process group with output
 * captured; unlike upstream (spec 03 §11.14) it has a deadline, after which the whole group is
 * SIGKILLed, so a hung `pip install` cannot block every later execution of the pack.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { EnvMap } from '../execution/child-env';
import type { RuntimeExecutionConfig } from '../execution/types';
import { applyRuntimeEnvVars, composeChildEnv } from '../execution/environment';
import type { Logger } from '../log';
import { buildTemplateVars } from './templates';
import { killProcessGroup } from '../util/process-group';

/** Bytes of stdout/stderr kept (the tail) for diagnostics. */
export const SETUP_OUTPUT_LIMIT_BYTES = 64 * 1024;
/** After the child exits, how long to wait for descendants holding the pipes before giving up. */
const PIPE_DRAIN_MS = 1000;

export interface SetupCommandResult {
  /** Exit code; -1 when killed by a signal or never started. */
  exitCode: number;
  /** Total bytes written to each stream (including bytes not kept). */
  stdoutBytes: number;
  stderrBytes: number;
  /** The last `SETUP_OUTPUT_LIMIT_BYTES` of each stream, decoded lossily. */
  stdoutTail: string;
  stderrTail: string;
  timedOut: boolean;
  aborted: boolean;
  spawnError: Error | null;
}

export interface RunSetupCommandOptions {
  argv: readonly string[];
  cwd: string;
  env: EnvMap;
  timeoutMs: number;
  signal?: AbortSignal;
}

class TailBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept - (this.chunks[0]?.length ?? 0) >= SETUP_OUTPUT_LIMIT_BYTES && this.chunks.length > 1) {
      this.kept -= this.chunks.shift()!.length;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - SETUP_OUTPUT_LIMIT_BYTES)).toString('utf8');
  }
}


/** Spawn `argv` and wait for it; never rejects. */
export function runSetupCommand(opts: RunSetupCommandOptions): Promise<SetupCommandResult> {
  const stdout = new TailBuffer();
  const stderr = new TailBuffer();
  const result = (partial: Partial<SetupCommandResult>): SetupCommandResult => ({
    exitCode: -1,
    stdoutBytes: stdout.total,
    stderrBytes: stderr.total,
    stdoutTail: stdout.text(),
    stderrTail: stderr.text(),
    timedOut: false,
    aborted: false,
    spawnError: null,
    ...partial,
  });
  const [program, ...args] = opts.argv;
  if (program === undefined || program === '') {
    return Promise.resolve(result({ spawnError: new Error('empty command') }));
  }
  if (opts.signal?.aborted) return Promise.resolve(result({ aborted: true }));

  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: opts.cwd,
        env: opts.env,
        shell: false,
        detached: true, // own process group, so a timeout can kill pip's/npm's children too
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      resolve(result({ spawnError: e instanceof Error ? e : new Error(String(e)) }));
      return;
    }
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let exitCode: number | null = null;
    let drainTimer: NodeJS.Timeout | undefined;

    const finish = (partial: Partial<SetupCommandResult>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(result({ timedOut, aborted, ...partial }));
    };
    const onAbort = (): void => {
      aborted = true;
      killProcessGroup(child);
    };
    const deadline = setTimeout(() => {
      timedOut = true;
      killProcessGroup(child);
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (c: Buffer) => stdout.push(c));
    child.stderr?.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (e) => finish({ spawnError: e }));
    child.on('exit', (code) => {
      exitCode = code ?? -1;
      // A daemonised grandchild may keep the pipes open; don't wait for it forever.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish({ exitCode: exitCode ?? -1 });
      }, PIPE_DRAIN_MS);
    });
    child.on('close', (code) => finish({ exitCode: exitCode ?? code ?? -1 }));
  });
}

/**
 * spec 03 §3.4: the environment of setup commands — the child baseline, the runtime's
 * non-reserved `env_vars`, and HOME/XDG/pip cache redirected under `{env_dir}/.attune-setup` so
 * installers never write into the agent's home; `PIP_CONFIG_FILE` disables user pip config.
 * No `ATTUNE_*` context and no API token.
 */
export function buildSetupEnv(
  baseEnv: EnvMap,
  config: RuntimeExecutionConfig | null | undefined,
  packDir: string,
  envDir: string,
  log: Logger,
  platform: string = process.platform,
): EnvMap {
  const explicit: EnvMap = {};
  // Same resolution as for the action itself (reserved ATTUNE_ names are skipped with a warning).
  applyRuntimeEnvVars(explicit, baseEnv, config?.env_vars, buildTemplateVars(config, packDir, envDir), log);
  const setupHome = join(envDir, '.attune-setup');
  explicit.HOME = setupHome;
  explicit.XDG_CONFIG_HOME = join(setupHome, 'config');
  explicit.XDG_CACHE_HOME = join(setupHome, 'cache');
  explicit.PIP_CACHE_DIR = join(setupHome, 'cache', 'pip');
  explicit.PIP_CONFIG_FILE = platform === 'win32' ? 'NUL' : '/dev/null';
  return composeChildEnv(baseEnv, explicit);
}
