/**
 * Runs `distributions.verification.commands` of runtimes and runtime versions: used by
 * capability detection tier 3 (spec 01 §4.4) and by version verification (spec 01 §8.1).
 * Probes spawn real executables (`shell: false`) with the child baseline environment
 * (spec 01 §3.6), never the agent's own environment.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export type Spawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface VerificationCommand {
  binary: string;
  args: string[];
  /** Expected exit code (default 0). */
  exitCode: number;
  /** Regex that must match stdout + stderr, or null. */
  pattern: string | null;
  priority: number;
}

/** Upper bound of probe output kept for the pattern match. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * `verification.commands` of a `distributions` object, sorted by ascending priority (stable).
 * Entries without a binary are dropped. `defaultPriority`: 999 for capability detection
 * (spec 01 §4.4), 100 for version verification (spec 01 §8.1).
 */
export function parseVerificationCommands(distributions: unknown, defaultPriority: number): VerificationCommand[] {
  const commands = asObject(asObject(distributions)?.verification)?.commands;
  if (!Array.isArray(commands)) return [];
  const out: VerificationCommand[] = [];
  for (const raw of commands) {
    const c = asObject(raw);
    if (!c || typeof c.binary !== 'string' || c.binary.trim() === '') continue;
    out.push({
      binary: c.binary,
      args: Array.isArray(c.args) ? c.args.map((a) => String(a)) : [],
      exitCode: typeof c.exit_code === 'number' ? c.exit_code : 0,
      pattern: typeof c.pattern === 'string' ? c.pattern : null,
      priority: typeof c.priority === 'number' ? c.priority : defaultPriority,
    });
  }
  return out.map((c, i) => ({ c, i })).sort((a, b) => a.c.priority - b.c.priority || a.i - b.i).map(({ c }) => c);
}

export interface RunCommandOptions {
  env: Readonly<Record<string, string>>;
  /** Kill the probe after this long and count it as failed; null = no limit. */
  timeoutMs: number | null;
  spawner?: Spawner;
}

/**
 * true when the command ran, exited with `exitCode` and (if set) `pattern` matched
 * stdout followed by stderr. Spawn errors, timeouts and invalid patterns → false.
 */
export function runVerificationCommand(cmd: VerificationCommand, opts: RunCommandOptions): Promise<boolean> {
  let regex: RegExp | null = null;
  if (cmd.pattern !== null) {
    try {
      regex = new RegExp(cmd.pattern);
    } catch {
      return Promise.resolve(false);
    }
  }
  const spawner = opts.spawner ?? (spawn as Spawner);
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawner(cmd.binary, cmd.args, { env: { ...opts.env }, shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      resolve(false);
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let kept = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (kept >= MAX_OUTPUT_BYTES) return;
      into.push(chunk);
      kept += chunk.length;
    };
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));

    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(ok);
    };
    const timer =
      opts.timeoutMs === null
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            finish(false);
          }, opts.timeoutMs);
    child.on('error', () => finish(false));
    child.on('close', (code) => {
      if (code !== cmd.exitCode) return finish(false);
      if (regex === null) return finish(true);
      const output = Buffer.concat(stdout).toString('utf8') + Buffer.concat(stderr).toString('utf8');
      finish(regex.test(output));
    });
  });
}

/** Run commands in order; true at the first success. */
export async function anyCommandSucceeds(commands: readonly VerificationCommand[], opts: RunCommandOptions): Promise<boolean> {
  for (const cmd of commands) {
    if (await runVerificationCommand(cmd, opts)) return true;
  }
  return false;
}

export interface RuntimeForDetection {
  name: string;
  distributions: unknown;
}

export interface DetectRuntimeNamesOptions {
  childEnv: Readonly<Record<string, string>>;
  /**
   * Per-command limit. Upstream's detector has none (a hanging binary hangs start-up);
   * the agent bounds it (default 10 s, the same as version verification).
   */
  timeoutMs?: number | null;
  spawner?: Spawner;
}

/**
 * Capability tier 3 (spec 01 §4.4): lower-cased `runtime.name` of every runtime (in the given
 * order, normally `ORDER BY ref`) that is available here: `verification.always_available`,
 * or `verification.check_required === false`, or any verification command succeeds
 * (missing priority = 999).
 */
export async function detectAvailableRuntimeNames(
  runtimes: readonly RuntimeForDetection[],
  opts: DetectRuntimeNamesOptions,
): Promise<string[]> {
  const names: string[] = [];
  const runOpts: RunCommandOptions = {
    env: opts.childEnv,
    timeoutMs: opts.timeoutMs === undefined ? 10_000 : opts.timeoutMs,
    ...(opts.spawner ? { spawner: opts.spawner } : {}),
  };
  for (const runtime of runtimes) {
    const verification = asObject(asObject(runtime.distributions)?.verification);
    const available =
      verification?.always_available === true ||
      verification?.check_required === false ||
      (await anyCommandSucceeds(parseVerificationCommands(runtime.distributions, 999), runOpts));
    if (available) names.push(runtime.name.toLowerCase());
  }
  return names;
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
