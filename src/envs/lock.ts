/**
 * Serialising environment setup per env dir. Upstream only has an in-process mutex
 * (spec 03 §7.3); agents in several containers sharing one `runtime_envs_dir` volume could
 * then build the same legacy env in place at the same time and corrupt it. Here a setup holds
 * both an in-process mutex and a lock file `{envDir}.lock` created with O_EXCL.
 *
 * A lock file is stale when its holder is provably dead (same host and PID namespace, PID gone)
 * or when it has not been refreshed for `staleMs` — the holder touches it every `staleMs / 4`,
 * which covers holders in other containers whose PIDs cannot be checked from here.
 */
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sleep } from '../util/sleep';

// ---------------------------------------------------------------------------------------------
// In-process keyed mutex

const chains = new Map<string, Promise<void>>();

/** Run `fn` after every earlier `withKeyedMutex(key, …)` call in this process has finished. */
export async function withKeyedMutex<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = chains.get(key) ?? Promise.resolve();
  let release!: () => void;
  const current = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous.then(() => current);
  chains.set(key, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (chains.get(key) === tail) chains.delete(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Cross-process lock file

interface LockOwner {
  token: string;
  pid: number;
  host: string;
  /** Linux PID namespace id (`pid:[4026531836]`), so a PID is only checked where it means something. */
  pidns: string | null;
  createdAt: string;
}

let cachedPidNs: string | null | undefined;
function currentPidNamespace(): string | null {
  if (cachedPidNs === undefined) {
    try {
      cachedPidNs = readlinkSync('/proc/self/ns/pid');
    } catch {
      cachedPidNs = null;
    }
  }
  return cachedPidNs;
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface FileLockOptions {
  /** Give up waiting after this long (ms). */
  waitTimeoutMs: number;
  /** A lock not refreshed for this long is stale (ms). Default 60 000. */
  staleMs?: number;
  /** Poll interval while waiting (ms). Default 200. */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface FileLockHandle {
  path: string;
  release(): Promise<void>;
}

export class LockWaitError extends Error {
  constructor(
    message: string,
    readonly aborted: boolean,
  ) {
    super(message);
    this.name = 'LockWaitError';
  }
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.token !== 'string' || typeof parsed.pid !== 'number') return null;
    return {
      token: parsed.token,
      pid: parsed.pid,
      host: String(parsed.host ?? ''),
      pidns: typeof parsed.pidns === 'string' ? parsed.pidns : null,
      createdAt: String(parsed.createdAt ?? ''),
    };
  } catch {
    return null;
  }
}

/** True when the lock at `path` (as last seen) may be taken over. */
async function isStale(path: string, owner: LockOwner | null, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return false; // vanished: just retry the create
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  if (owner === null) return false; // half-written by a live creator; give it time
  const pidns = currentPidNamespace();
  const sameProcessSpace = owner.host === hostname() && owner.pidns !== null && owner.pidns === pidns;
  return sameProcessSpace && !isPidAlive(owner.pid);
}

/**
 * Take over a stale lock without racing another taker: move it aside under a unique name, and
 * only delete it if it is still the lock we judged stale; otherwise put it back (link fails if
 * a new lock appeared meanwhile, in which case that new lock wins and ours is discarded).
 */
async function takeOverStale(path: string, judged: LockOwner | null): Promise<void> {
  const aside = `${path}.stale.${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readOwner(aside);
  if (judged !== null && moved !== null && moved.token !== judged.token) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

/** Acquire `{path}` exclusively across processes (and hosts sharing the filesystem). */
export async function acquireFileLock(path: string, opts: FileLockOptions): Promise<FileLockHandle> {
  const staleMs = opts.staleMs ?? 60_000;
  const pollMs = opts.pollMs ?? 200;
  const deadline = Date.now() + opts.waitTimeoutMs;
  const owner: LockOwner = {
    token: randomUUID(),
    pid: process.pid,
    host: hostname(),
    pidns: currentPidNamespace(),
    createdAt: new Date().toISOString(),
  };
  for (;;) {
    if (opts.signal?.aborted) throw new LockWaitError(`Aborted while waiting for lock ${path}`, true);
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(JSON.stringify(owner));
      } finally {
        await fh.close();
      }
      return createHandle(path, owner, staleMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const current = await readOwner(path);
    if (await isStale(path, current, staleMs)) {
      await takeOverStale(path, current);
      continue;
    }
    if (Date.now() >= deadline) {
      const holder = current ? ` (held by pid ${current.pid} on ${current.host} since ${current.createdAt})` : '';
      throw new LockWaitError(`Timed out after ${Math.round(opts.waitTimeoutMs / 1000)} s waiting for lock ${path}${holder}`, false);
    }
    await sleep(pollMs, opts.signal);
  }
}

function createHandle(path: string, owner: LockOwner, staleMs: number): FileLockHandle {
  // Refresh the mtime so waiters in other PID namespaces can tell we are alive.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, Math.max(50, Math.floor(staleMs / 4)));
  heartbeat.unref();
  let released = false;
  return {
    path,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Only remove the file if it is still ours (it may have been taken over as stale).
      const current = await readOwner(path);
      if (current?.token === owner.token) await unlink(path).catch(() => undefined);
    },
  };
}
