/** Explaining an action's death by a signal the agent did not send (issue 17). */
import type { OomWatch } from './ports';

/**
 * Why an action died by a signal the agent did not send (or lost a process to the OOM killer):
 * the cgroup's oom_kill counter moved during the run → the kernel's OOM killer. Null when there is
 * nothing to add to the usual exit text.
 */
export function describeKill(exit: { code: number | null; signal: NodeJS.Signals | null }, before: number | null, oom: OomWatch | null): { text: string; oom: boolean } | null {
  const after = before === null ? null : (oom?.killCount() ?? null);
  const oomKills = before !== null && after !== null ? after - before : 0;
  if (oomKills > 0 && oom) {
    const limit = oom.memoryLimit();
    const what = exit.signal === 'SIGKILL' ? 'Action process was killed by the kernel OOM killer (SIGKILL)' : `Action exited with code ${exit.code ?? -1} after the kernel OOM killer killed one of its processes`;
    return {
      oom: true,
      text:
        `${what}: the container's memory limit${limit ? ` (${limit === 'max' ? 'no cgroup limit, so the machine' : `${limit} bytes`})` : ''} was reached ` +
        `(${oom.source}: oom_kill ${before} → ${after}). Give the container more memory or make the action use less`,
    };
  }
  if (exit.signal === 'SIGKILL') {
    const cause = oom && after !== null
      ? `not by the OOM killer of this container's memory cgroup (${oom.source}: oom_kill unchanged): by an operator or another process`
      : 'possibly by the kernel OOM killer (no memory cgroup counter to tell) or an operator';
    return { oom: false, text: `Action process was killed by SIGKILL from outside the agent, ${cause}` };
  }
  return null;
}

