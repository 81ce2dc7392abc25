/** /proc and file-system inspection: what an action left behind (test/support/chaos.ts). */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

// ------------------------------------------------------------------ /proc inspection

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  args: string;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (after[0] === 'Z') return null; // a zombie has already exited
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(after[1]), pgid: Number(after[2]), args };
  } catch {
    return null;
  }
}

/**
 * Live processes whose environment contains `needle` (e.g. `ATTUNE_PACK_REF=<unique pack>`):
 * every process an action started inherits it, whatever its command line. Needs root (or the
 * same uid) to read /proc/<pid>/environ.
 */
export function processesWithEnv(needle: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  const bytes = Buffer.from(needle);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    if (env.indexOf(bytes) < 0) continue;
    const info = procInfo(pid);
    if (info) out.push(info);
  }
  return out;
}

/** Live processes whose command line contains `needle` (what `ps -eo args | grep` shows). */
export function processesWithArgs(needle: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const info = procInfo(pid);
    if (info && info.args.includes(needle)) out.push(info);
  }
  return out;
}

/** `ps` as a person would run it, for the figures printed next to the /proc scan. */
export async function psLines(needle: string): Promise<string[]> {
  const { stdout } = await execFileP('ps', ['-eo', 'pid,pgid,stat,args', '--no-headers']);
  return stdout.split('\n').filter((l) => l.includes(needle) && !l.includes(' ps -eo'));
}

/** SIGKILL whatever is left (cleanup only). */
export function killAll(procs: ProcInfo[]): void {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Where each fd of `pid` points (socket:[…], pipe:[…], /path). */
export function fdTargets(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readlinkSync(join(dir, fd)));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Recursively list regular files under `dir` modified at/after `sinceMs` (skipping `skip` dirs). */
export function filesModifiedSince(dir: string, sinceMs: number, skip: (path: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 12 || skip(d)) return;
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (!st) continue;
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile() && st.mtimeMs >= sinceMs && !skip(p)) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** Which of `needles` occur in `file` (files over `maxBytes` are read in part). */
export function fileContains(file: string, needles: string[], maxBytes = 64 * 1024 * 1024): string[] {
  let buf: Buffer;
  try {
    const size = statSync(file).size;
    if (size > maxBytes) return [];
    buf = readFileSync(file);
  } catch {
    return [];
  }
  return needles.filter((n) => buf.indexOf(Buffer.from(n)) >= 0);
}
