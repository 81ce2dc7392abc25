/**
 * What the agent does when it finds itself PID 1 (README "PID 1"): the side of the plan that
 * process/pid1.ts decides — re-execute under tini, or supervise the agent under `tini -s`, or
 * only log why orphans will not be reaped.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { toError } from '../errors';
import type { Logger } from '../log';
import { exitCodeOf, type InitPlan } from '../process/pid1';

/**
 * Carry out the PID 1 plan. Returns null to go on starting the agent, or the exit code of the
 * supervised agent (Node without process.execve). On success `execve` does not return.
 */
export async function takePid1Duties(plan: InitPlan, env: NodeJS.ProcessEnv, log: Logger): Promise<number | null> {
  if (plan.kind === 'none') {
    if (plan.underInit !== null) log.info({ init: plan.underInit }, 'running under tini as PID 1: orphaned processes are reaped');
    return null;
  }
  if (plan.kind === 'v8-options') {
    log.info({ options: plan.added }, "re-executing with the single executable's V8 options (plain bundle): a young generation Node lets grow to 64 MiB doubles the agent's RSS and makes every spawn dearer");
    try {
      await flushThenExecve(plan.file, plan.argv, plan.env);
    } catch (e) {
      log.warn({ err: toError(e), options: plan.added }, `could not re-execute with ${plan.added.join(' ')}; going on without (start node with it to keep the agent's memory down)`);
    }
    return null;
  }
  if (plan.kind === 'unreaped') {
    log.warn(plan.message);
    return null;
  }
  if (plan.kind === 'execve') {
    log.info({ init: plan.tini }, 'running as PID 1: re-executing under tini so orphaned processes are reaped (the agent continues as its child)');
    try {
      await flushThenExecve(plan.tini, plan.argv, plan.env);
    } catch (e) {
      log.warn({ err: toError(e), init: plan.tini }, 'could not re-execute under tini; staying PID 1: orphaned processes of actions will stay zombies');
      return null;
    }
  }
  log.warn(
    { init: plan.tini, node: process.version },
    'running as PID 1 on a Node without process.execve: supervising the agent under `tini -s` (an extra process) so orphaned processes are reaped',
  );
  const child = spawn(plan.tini, plan.argv.slice(1), { stdio: 'inherit', env: { ...plan.env } });
  const forwarded: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  for (const sig of forwarded) process.on(sig, forward);
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    return exitCodeOf(exit.code, exit.signal, osConstants.signals);
  } catch (e) {
    log.warn({ err: toError(e), init: plan.tini }, 'could not start tini; staying PID 1: orphaned processes of actions will stay zombies');
    return null;
  } finally {
    for (const sig of forwarded) process.off(sig, forward);
  }
}

/**
 * `process.execve` (Node ≥ 22.15; @types/node 20 lacks it) once the log lines written so far
 * have left: replaces this process, or throws.
 */
async function flushThenExecve(file: string, args: readonly string[], env: Record<string, string>): Promise<never> {
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  return (process as unknown as { execve(file: string, args: readonly string[], env: Record<string, string>): never }).execve(file, args, env);
}
