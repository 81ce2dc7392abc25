/**
 * Actions, not the agent, pay for memory (issue 17).
 *
 * 1. OOM score: every action process starts with a higher `oom_score_adj` than the agent (default
 *    1000, the maximum), so when the container's memory limit is reached the kernel's OOM killer
 *    picks the action. Node's spawn has no pre-exec hook, and writing /proc/<child>/oom_score_adj
 *    after the spawn would miss what the child forked meanwhile; but the value is copied at fork,
 *    and libuv forks synchronously inside `spawn()`. So the agent raises its own value, spawns,
 *    and lowers it back in the same synchronous turn. Raising needs no privilege; lowering back to
 *    the starting value is allowed because the kernel only refuses values below
 *    `oom_score_adj_min`, which an unprivileged writer never moves (fs/proc/base.c).
 * 2. OOM detection: the cgroup's `oom_kill` counter (cgroup v2 memory.events, v1
 *    memory.oom_control) read before the spawn and after an abnormal exit tells the engine that
 *    the kernel killed a process of this cgroup meanwhile (execution/ports.ts `OomWatch`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createKeptProcFileIo, type ProcFileIo } from './proc-files';
import type { Logger } from '../log';
import type { OomWatch, ProcessSpawner } from '../execution/ports';

export const DEFAULT_CHILD_OOM_SCORE_ADJ = 1000;
const SELF = '/proc/self/oom_score_adj';

export type OomScoreIo = ProcFileIo;

/**
 * `base` wrapped so children start with `childScore`. Returns `base` itself (and says why) when
 * the agent's score cannot be read, is already ≥ childScore, or cannot be set back.
 */
export function withChildOomScore(base: ProcessSpawner, childScore: number, log: Logger, io: OomScoreIo = createKeptProcFileIo()): ProcessSpawner {
  let agentScore: number;
  try {
    agentScore = Number.parseInt(io.read(SELF).trim(), 10);
    if (!Number.isInteger(agentScore)) throw new Error(`unexpected content of ${SELF}`);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot read the agent\'s oom_score_adj; actions keep the agent\'s OOM score');
    return base;
  }
  const target = Math.max(-1000, Math.min(1000, childScore));
  if (target <= agentScore) {
    log.info({ agentOomScoreAdj: agentScore, childOomScoreAdj: target }, 'actions keep the agent\'s oom_score_adj (already as high as the configured one)');
    return base;
  }
  // Probe the round trip once, so a kernel that refuses the way back is found before any spawn.
  try {
    io.write(SELF, String(target));
    io.write(SELF, String(agentScore));
  } catch (e) {
    log.warn({ err: (e as Error).message, agentOomScoreAdj: agentScore }, 'cannot raise and restore oom_score_adj; actions keep the agent\'s OOM score');
    try {
      io.write(SELF, String(agentScore));
    } catch {
      /* reported above */
    }
    return base;
  }
  log.info({ agentOomScoreAdj: agentScore, childOomScoreAdj: target }, 'actions start with a higher oom_score_adj than the agent: the OOM killer takes them first');
  let broken = false;
  return (command, args, options) => {
    if (broken) return base(command, args, options);
    io.write(SELF, String(target));
    try {
      return base(command, args, options);
    } finally {
      try {
        io.write(SELF, String(agentScore));
      } catch (e) {
        broken = true;
        log.error({ err: (e as Error).message, stuckAt: target }, 'could not restore the agent\'s oom_score_adj; no longer raising it for actions');
      }
    }
  };
}

/** Path of the agent's memory cgroup counter file, or null (no cgroup, root cgroup, no /sys/fs/cgroup). */
export function memoryEventsPath(procSelfCgroup: string, exists: (p: string) => boolean): string | null {
  for (const line of procSelfCgroup.split('\n')) {
    const [, controllers, path] = line.split(':', 3) as [string, string | undefined, string | undefined];
    if (path === undefined || controllers === undefined) continue;
    const rel = path === '/' ? '' : path;
    const candidates =
      controllers === ''
        ? [`/sys/fs/cgroup${rel}/memory.events`] // v2 unified
        : controllers.split(',').includes('memory')
          ? [`/sys/fs/cgroup/memory${rel}/memory.oom_control`] // v1
          : [];
    for (const c of candidates) if (exists(c)) return c;
  }
  return null;
}

/** `oom_kill <n>` of memory.events / memory.oom_control. */
export function parseOomKillCount(text: string): number | null {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/** The engine's OomWatch over the agent's own memory cgroup; null when there is none to read. */
export function createCgroupOomWatch(io: { read(path: string): string; exists(path: string): boolean }): OomWatch | null {
  let path: string | null;
  try {
    path = memoryEventsPath(io.read('/proc/self/cgroup'), io.exists);
  } catch {
    return null;
  }
  if (path === null) return null;
  const file = path;
  const count = (): number | null => {
    try {
      return parseOomKillCount(io.read(file));
    } catch {
      return null;
    }
  };
  if (count() === null) return null;
  const dir = file.slice(0, file.lastIndexOf('/'));
  return {
    source: file,
    killCount: count,
    memoryLimit: () => {
      try {
        return io.read(file.endsWith('memory.events') ? `${dir}/memory.max` : `${dir}/memory.limit_in_bytes`).trim();
      } catch {
        return null;
      }
    },
  };
}

/** The action spawner with the raised score, and the OOM watch of the agent's memory cgroup. */
export function createActionProcessProtection(childScore: number, log: Logger): { spawner: ProcessSpawner; oom: OomWatch | null } {
  // One set of kept descriptors for the writes and the counter read around each spawn.
  const io = createKeptProcFileIo();
  const spawner = withChildOomScore(spawn as ProcessSpawner, childScore, log, io);
  const oom = createCgroupOomWatch({ read: (p) => io.read(p), exists: (p) => existsSync(p) });
  log.info(
    { oomKillCounter: oom?.source ?? null },
    oom ? 'OOM kills of actions are detected from the memory cgroup' : 'no memory cgroup counter: OOM kills cannot be told apart from other SIGKILLs',
  );
  return { spawner, oom };
}
