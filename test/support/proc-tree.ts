/**
 * The process tree below a host pid, read from the host's /proc (which also shows the processes
 * of child PID namespaces): for counting zombies and stray processes of a "container".
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  /** /proc/<pid>/stat state: R, S, D, Z (zombie), T… */
  readonly state: string;
  readonly comm: string;
  readonly args: string;
}

function readEntry(pid: number): ProcEntry | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces or ')': split at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    let args = '';
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* zombie or gone */
    }
    return { pid, ppid: Number(ppid), state: state ?? '?', comm, args };
  } catch {
    return null;
  }
}

/** Children of every thread (an orphan is re-parented to some live thread of its reaper). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** Every process below `root` (not `root` itself), parents before children. */
export function descendants(root: number): ProcEntry[] {
  const out: ProcEntry[] = [];
  const queue = childrenOf(root);
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    const e = readEntry(pid);
    if (!e) continue;
    out.push(e);
    queue.push(...childrenOf(pid));
  }
  return out;
}

export const zombiesOf = (list: readonly ProcEntry[]): ProcEntry[] => list.filter((p) => p.state === 'Z');
