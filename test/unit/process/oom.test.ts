import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import type { ProcessSpawner } from '../../../src/execution/ports';
import { createCgroupOomWatch, memoryEventsPath, parseOomKillCount, withChildOomScore, type OomScoreIo } from '../../../src/process/oom';

const log = createSilentLogger();

function fakeIo(initial: string, refuseBelow: number | null = null): OomScoreIo & { writes: string[]; value: string } {
  const io = {
    value: initial,
    writes: [] as string[],
    read: () => `${io.value}\n`,
    write: (_p: string, v: string) => {
      if (refuseBelow !== null && Number(v) < refuseBelow) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      io.writes.push(v);
      io.value = v;
    },
  };
  return io;
}

describe('children start with a higher oom_score_adj than the agent', () => {
  it('raises the score around each spawn and restores the agent\'s at once', () => {
    const io = fakeIo('0');
    const seen: string[] = [];
    const base = ((..._a: unknown[]) => {
      seen.push(io.value);
      return {} as never;
    }) as unknown as ProcessSpawner;
    const wrapped = withChildOomScore(base, 1000, log, io);
    wrapped('x', [], {});
    wrapped('y', [], {});
    expect(seen).toEqual(['1000', '1000']);
    expect(io.value).toBe('0');
    // probe round trip, then raise/restore per spawn
    expect(io.writes).toEqual(['1000', '0', '1000', '0', '1000', '0']);
  });

  it('restores the score even when the spawn throws', () => {
    const io = fakeIo('-500');
    const wrapped = withChildOomScore((() => {
      throw new Error('EAGAIN');
    }) as unknown as ProcessSpawner, 1000, log, io);
    expect(() => wrapped('x', [], {})).toThrow('EAGAIN');
    expect(io.value).toBe('-500');
  });

  it('leaves the spawner alone when the agent is already at the top or the way back is refused', () => {
    const base = (() => ({}) as never) as unknown as ProcessSpawner;
    expect(withChildOomScore(base, 1000, log, fakeIo('1000'))).toBe(base);
    // Set by a privileged runtime (oom_score_adj_min = 200): going back to 200 is allowed.
    expect(withChildOomScore(base, 1000, log, fakeIo('200', 200))).not.toBe(base);
    const stuck = fakeIo('100', 150); // value below min cannot be restored
    expect(withChildOomScore(base, 1000, log, stuck)).toBe(base);
  });

  it('really starts a child (and its children) at 1000 while this process keeps its own score', () => {
    const own = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
    const wrapped = withChildOomScore(spawn as ProcessSpawner, 1000, log);
    const child = wrapped('sh', ['-c', 'cat /proc/self/oom_score_adj; sh -c "cat /proc/self/oom_score_adj"'], { stdio: ['ignore', 'pipe', 'ignore'] });
    return new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', () => {
        try {
          expect(out.trim().split('\n')).toEqual(['1000', '1000']);
          expect(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()).toBe(own);
          // A plain spawn still inherits the agent's own score.
          expect(spawnSync('cat', ['/proc/self/oom_score_adj'], { encoding: 'utf8' }).stdout.trim()).toBe(own);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  });
});

describe('OOM kill counter of the memory cgroup', () => {
  it('finds cgroup v2 memory.events and v1 memory.oom_control', () => {
    const v2 = '0::/kubepods/pod1/ctr\n';
    expect(memoryEventsPath(v2, (p) => p === '/sys/fs/cgroup/kubepods/pod1/ctr/memory.events')).toBe('/sys/fs/cgroup/kubepods/pod1/ctr/memory.events');
    expect(memoryEventsPath('0::/\n', (p) => p === '/sys/fs/cgroup/memory.events')).toBe('/sys/fs/cgroup/memory.events');
    const v1 = '9:name=systemd:/\n4:memory:/docker/abc\n0::/\n';
    expect(memoryEventsPath(v1, (p) => p === '/sys/fs/cgroup/memory/docker/abc/memory.oom_control')).toBe('/sys/fs/cgroup/memory/docker/abc/memory.oom_control');
    expect(memoryEventsPath(v1, () => false)).toBeNull();
  });

  it('reads oom_kill from both formats', () => {
    expect(parseOomKillCount('low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n')).toBe(2);
    expect(parseOomKillCount('oom_kill_disable 0\nunder_oom 0\noom_kill 7\n')).toBe(7);
    expect(parseOomKillCount('oom_kill_disable 0\n')).toBeNull();
  });

  it('watches the file and reports the limit beside it', () => {
    const files: Record<string, string> = {
      '/proc/self/cgroup': '0::/pod\n',
      '/sys/fs/cgroup/pod/memory.events': 'oom 1\noom_kill 1\n',
      '/sys/fs/cgroup/pod/memory.max': '268435456\n',
    };
    const watch = createCgroupOomWatch({ read: (p) => files[p] ?? (() => { throw new Error('ENOENT'); })(), exists: (p) => p in files })!;
    expect(watch.source).toBe('/sys/fs/cgroup/pod/memory.events');
    expect(watch.killCount()).toBe(1);
    expect(watch.memoryLimit()).toBe('268435456');
    expect(createCgroupOomWatch({ read: () => '0::/\n', exists: () => false })).toBeNull();
  });
});
