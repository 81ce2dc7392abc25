// Small helpers shared by the benchmark sections: statistics, timing, processes, progress lines.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export const now = () => performance.now();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function suffix(n = 8) {
  return randomBytes(n).toString('hex').slice(0, n);
}

/** Round to `d` decimals (figures in the JSON are readable, not float noise). */
export function round(x, d = 2) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Nearest-rank percentile (q in 0..1) of an unsorted sample. */
export function percentile(samples, q) {
  if (samples.length === 0) throw new Error('percentile of an empty sample');
  const s = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil(q * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export const median = (samples) => percentile(samples, 0.5);

export function summary(samples) {
  return {
    n: samples.length,
    min: round(Math.min(...samples)),
    p50: round(percentile(samples, 0.5)),
    p95: round(percentile(samples, 0.95)),
    p99: round(percentile(samples, 0.99)),
    max: round(Math.max(...samples)),
    mean: round(samples.reduce((a, b) => a + b, 0) / samples.length),
  };
}

/** Progress on stderr; stdout carries only the table. */
export function progress(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/**
 * VmRSS / VmHWM of a live process in KiB, with VmRSS split into anonymous and file-backed pages
 * (RssAnon / RssFile: a single executable's own text and blob are file-backed; null once gone).
 */
export function procMemory(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), anonKiB: field('RssAnon'), fileKiB: field('RssFile') };
  } catch {
    return null;
  }
}

export const kibToMiB = (k) => round(k / 1024, 1);

/**
 * Spawn, optionally feed stdin, drain stdout/stderr and resolve with the exit and the wall time
 * from just before spawn to 'close' (all pipes drained). Used for probes and floors.
 */
export function timedRun(cmd, args, { env, cwd, input = null, keepOutput = false } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(cmd, args, { env, cwd, stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => keepOutput && out.push(d));
    child.stderr.on('data', (d) => keepOutput && err.push(d));
    if (input !== null) {
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        ms: now() - t0,
        code,
        signal,
        stdout: keepOutput ? Buffer.concat(out).toString('utf8') : '',
        stderr: keepOutput ? Buffer.concat(err).toString('utf8') : '',
      }),
    );
  });
}

/** Resolve when `child` exits (immediately when it already has). */
export function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGTERM, then SIGKILL after `graceMs`; `group` signals the child's process group (detached children). */
export async function stopProcess(child, { graceMs = 15_000, group = false } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return exited(child);
  const send = (sig) => {
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      /* already gone */
    }
  };
  send('SIGTERM');
  const timer = setTimeout(() => send('SIGKILL'), graceMs);
  const r = await exited(child);
  clearTimeout(timer);
  if (group) send('SIGKILL'); // leftovers of the group (e.g. prefork children)
  return r;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux (getconf CLK_TCK)

/** CPU time of a live process (self) and of its reaped children, in ms. */
export function procCpu(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ').map(Number);
    // fields 14-17 of proc(5): utime stime cutime cstime (index 11.. after the comm field)
    return { selfMs: (f[11] + f[12]) * TICK_MS, userMs: f[11] * TICK_MS, systemMs: f[12] * TICK_MS, childrenMs: (f[13] + f[14]) * TICK_MS };
  } catch {
    return null;
  }
}

/** Machine-wide busy and total CPU time (all cores), in ms, from /proc/stat. */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + f[4];
  return { busyMs: (total - idle) * TICK_MS, totalMs: total * TICK_MS };
}

/** CPU ms (self) summed per process name prefix over all live processes, e.g. ['postgres', 'beam.smp']. */
export function cpuByName(prefixes) {
  const out = Object.fromEntries(prefixes.map((p) => [p, 0]));
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let line;
    try {
      line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = line.slice(line.indexOf('(') + 1, line.lastIndexOf(')'));
    const p = prefixes.find((x) => comm.startsWith(x));
    if (!p) continue;
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ').map(Number);
    out[p] += (f[11] + f[12]) * TICK_MS;
  }
  return out;
}

/**
 * CPU ms (self) of the PostgreSQL backends serving database `dbName` (cmdline
 * `postgres: … <user> <db> <host> …`): the per-statement work, without what other databases on a
 * shared server cost (the all-`postgres` sum counts those too). Shared helpers (WAL writer,
 * checkpointer) are not in it.
 */
export function pgBackendsCpu(dbName) {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd;
    let line;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith('postgres:') || !cmd.includes(` ${dbName} `)) continue;
      line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = line.slice(line.lastIndexOf(')') + 2).split(' ').map(Number);
    ms += (f[11] + f[12]) * TICK_MS;
  }
  return ms;
}
