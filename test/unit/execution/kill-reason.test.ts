import { describe, expect, it } from 'vitest';
import { describeKill } from '../../../src/execution/kill-reason';
import type { OomWatch } from '../../../src/execution/ports';

function watch(counts: number[], limit: string | null = '268435456'): OomWatch {
  let i = 0;
  return { source: '/sys/fs/cgroup/memory.events', killCount: () => counts[Math.min(i++, counts.length - 1)] ?? null, memoryLimit: () => limit };
}

describe('why an action was killed', () => {
  it('names the OOM killer when the cgroup counter moved during a SIGKILLed run', () => {
    const w = watch([2, 3]);
    const r = describeKill({ code: null, signal: 'SIGKILL' }, w.killCount(), w);
    expect(r?.oom).toBe(true);
    expect(r?.text).toBe(
      "Action process was killed by the kernel OOM killer (SIGKILL): the container's memory limit (268435456 bytes) was reached " +
        '(/sys/fs/cgroup/memory.events: oom_kill 2 → 3). Give the container more memory or make the action use less',
    );
  });

  it('names the OOM killer for a grandchild it killed (shell exit 137)', () => {
    const w = watch([0, 1]);
    expect(describeKill({ code: 137, signal: null }, w.killCount(), w)?.text).toMatch(/^Action exited with code 137 after the kernel OOM killer killed one of its processes/);
  });

  it('says a SIGKILL was not the OOM killer when the counter did not move, and is unsure without a counter', () => {
    const w = watch([4, 4]);
    expect(describeKill({ code: null, signal: 'SIGKILL' }, w.killCount(), w)?.text).toMatch(/not by the OOM killer .*oom_kill unchanged/);
    expect(describeKill({ code: null, signal: 'SIGKILL' }, null, null)?.text).toMatch(/possibly by the kernel OOM killer/);
  });

  it('adds nothing to an ordinary failure', () => {
    const w = watch([1, 1]);
    expect(describeKill({ code: 1, signal: null }, w.killCount(), w)).toBeNull();
    expect(describeKill({ code: null, signal: 'SIGSEGV' }, null, null)).toBeNull();
  });
});
