/**
 * PID 1 duties (issue 17). As a container's entrypoint the agent is PID 1 of the pod's PID
 * namespace, so every orphaned descendant (an action's `( cmd & )`, `setsid cmd &`) is re-parented
 * to it. Node (libuv) reaps only the children it spawned (waitpid on known pids), so those become
 * zombies until the namespace's PID limit is reached. No native addon may call waitpid(-1) or
 * prctl(PR_SET_CHILD_SUBREAPER) (SEA bundle, no libc in the image), so the agent hands PID 1 to
 * Debian's static `tini`, shipped in the bundle (`lib/tini`):
 *
 *   - `execve`: Node ≥ 22.15 (the SEA's Node 24) has `process.execve`: the agent replaces itself
 *     with `tini -- <the same agent command>`; tini (PID 1) reaps every orphan and forwards all
 *     signals to the agent, which keeps its SIGTERM drain / second-signal exit.
 *   - `supervise`: older Node (the plain bundle on Node 20) cannot exec: the agent stays PID 1
 *     but only as a thin parent of `tini -s -- <agent>`. `-s` makes tini the child subreaper, so
 *     orphans below it go to tini, not to us; the parent forwards signals and exits with tini's code.
 *   - `unreaped`: PID 1 and no tini anywhere: one warning saying what to do.
 *
 * Planning is pure (facts in, plan out); agent.ts carries the plan out.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isSea } from 'node:sea';
import { missingV8Options } from './v8-options';

/** Set in the agent's environment by the re-exec, so the agent under tini can say so. */
export const UNDER_INIT_ENV = 'ATTUNE_AGENT_UNDER_INIT';
/** Operator override: a tini path, or `none` to keep the agent itself as PID 1. */
export const INIT_PATH_ENV = 'ATTUNE_AGENT_INIT';
/** Where the bundle keeps tini (beside the private glibc; `install` copies lib/ as a whole). */
export const BUNDLED_TINI = join('lib', 'tini');
/** Found on PATH when the agent runs from the plain bundle (Debian package `tini`). */
const PATH_NAMES = ['tini-static', 'tini'];

export interface InitFacts {
  readonly pid: number;
  readonly hasExecve: boolean;
  readonly isSea: boolean;
  readonly execPath: string;
  readonly execArgv: readonly string[];
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isExecutable: (path: string) => boolean;
}

export type InitPlan =
  | { readonly kind: 'none'; readonly underInit: string | null }
  /** Not PID 1: the plain bundle re-executes itself with the V8 options it lacks (v8-options.ts). */
  | { readonly kind: 'v8-options'; readonly file: string; readonly argv: readonly string[]; readonly env: Record<string, string>; readonly added: readonly string[] }
  | { readonly kind: 'execve' | 'supervise'; readonly tini: string; readonly argv: readonly string[]; readonly env: Record<string, string> }
  | { readonly kind: 'unreaped'; readonly message: string };

/** What the agent must do about PID 1 before anything else starts. */
export function planInit(f: InitFacts): InitPlan {
  const added = missingV8Options(f);
  // The agent's own command line, as a re-exec must repeat it.
  const agentArgv = f.isSea
    ? // A SEA's argv[1] repeats the executable; options are compiled in (sea-config.json execArgv).
      [f.execPath, ...f.argv.slice(2)]
    : [f.execPath, ...added, ...f.execArgv, ...f.argv.slice(1)];
  if (f.pid !== 1) {
    if (added.length > 0 && f.hasExecve) return { kind: 'v8-options', file: f.execPath, argv: agentArgv, env: definedEnv(f.env), added };
    return { kind: 'none', underInit: f.env[UNDER_INIT_ENV] ?? null };
  }
  const override = f.env[INIT_PATH_ENV];
  if (override === 'none') {
    return { kind: 'unreaped', message: `running as PID 1 without an init (${INIT_PATH_ENV}=none): orphaned processes of actions will stay zombies` };
  }
  const tini = findTini(f);
  if (tini === null) {
    return {
      kind: 'unreaped',
      message:
        `running as PID 1 and no tini found (looked for ${override ? `${INIT_PATH_ENV}=${override}, ` : ''}${join(dirname(f.execPath), BUNDLED_TINI)} and ${PATH_NAMES.join('/')} on PATH): ` +
        'orphaned processes of actions will stay zombies; install the whole agent bundle (lib/tini), or start the container with an init (docker run --init, tini as entrypoint, or Kubernetes shareProcessNamespace)',
    };
  }
  const env = definedEnv(f.env);
  env[UNDER_INIT_ENV] = tini;
  if (f.hasExecve) return { kind: 'execve', tini, argv: [tini, '--', ...agentArgv], env };
  return { kind: 'supervise', tini, argv: [tini, '-s', '--', ...agentArgv], env };
}

/** The environment for execve: the variables that are set. */
function definedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function findTini(f: InitFacts): string | null {
  const override = f.env[INIT_PATH_ENV];
  if (override) return f.isExecutable(override) ? override : null;
  const bundled = join(dirname(f.execPath), BUNDLED_TINI);
  if (f.isExecutable(bundled)) return bundled;
  for (const dir of (f.env.PATH ?? '').split(':')) {
    if (!dir.startsWith('/')) continue;
    for (const name of PATH_NAMES) {
      const p = join(dir, name);
      if (f.isExecutable(p)) return p;
    }
  }
  return null;
}

/** Exit code of a supervised child the way a shell reports it (128 + signal number). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null, signalNumbers: Readonly<Record<string, number>>): number {
  if (code !== null) return code;
  return 128 + (signal ? (signalNumbers[signal] ?? 0) : 0);
}

/** The facts of this process (`env` is passed in: only agent.ts reads process.env). */
export function currentInitFacts(env: Readonly<Record<string, string | undefined>>): InitFacts {
  return {
    pid: process.pid,
    hasExecve: typeof (process as { execve?: unknown }).execve === 'function',
    isSea: isSeaRuntime(),
    execPath: process.execPath,
    execArgv: process.execArgv,
    argv: process.argv,
    env,
    isExecutable: (p) => {
      try {
        accessSync(p, fsConstants.X_OK);
        return statSync(p).isFile();
      } catch {
        return false;
      }
    },
  };
}

function isSeaRuntime(): boolean {
  try {
    return isSea();
  } catch {
    return false;
  }
}
