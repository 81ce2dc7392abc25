/**
 * `worker.run_as_user` / `worker.run_as_group` (our own keys, not upstream): resolve the names
 * against the image's /etc/passwd and /etc/group and check that the agent can switch to them.
 *
 * Why: an action spawned with the agent's uid can read /proc/<agent pid>/environ (the database
 * URL with its password, the encryption key, the JWT secret) and any file the agent can read.
 * Spawned with another uid, /proc/<pid>/environ of a root process is unreadable to it (0400,
 * owner root). Only root may switch uids, so the option on a non-root agent is a start-up error
 * rather than a silent no-op.
 */
import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../errors';
import type { WorkerConfig } from './types';

export interface RunAs {
  uid: number;
  gid: number;
}

export interface RunAsDeps {
  /** The agent's own uid (`process.getuid()`); undefined on platforms without uids. */
  currentUid: number | undefined;
  readFile: (path: string) => string;
}

const defaultDeps = (): RunAsDeps => ({ currentUid: process.getuid?.(), readFile: (p) => readFileSync(p, 'utf8') });

/** `name:x:uid:gid:…` lines → entries (malformed lines skipped). */
function parseDb(text: string): { name: string; id: number; gid: number }[] {
  const out: { name: string; id: number; gid: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || line.startsWith('#')) continue;
    const id = Number(f[2]);
    if (!Number.isInteger(id) || id < 0) continue;
    out.push({ name: f[0] as string, id, gid: Number(f[3] ?? NaN) });
  }
  return out;
}

function readDb(deps: RunAsDeps, path: string): { name: string; id: number; gid: number }[] {
  try {
    return parseDb(deps.readFile(path));
  } catch {
    return [];
  }
}

const NUMERIC = /^\d+$/;

/**
 * Resolve the settings. Returns null when `run_as_user` is not set; throws RunAsError with a
 * message naming the key and what to do otherwise.
 */
export function resolveRunAs(worker: Pick<WorkerConfig, 'runAsUser' | 'runAsGroup'>, deps: RunAsDeps = defaultDeps()): RunAs | null {
  const { runAsUser: user, runAsGroup: group } = worker;
  if (user === null && group === null) return null;
  if (user === null) {
    throw new RunAsError('worker.run_as_group', 'is set without worker.run_as_user; set the user too (the group alone would leave actions running as root)');
  }
  if (deps.currentUid === undefined) throw new RunAsError('worker.run_as_user', 'is not supported on this platform (no POSIX user ids)');
  if (deps.currentUid !== 0) {
    throw new RunAsError(
      'worker.run_as_user',
      `is set to '${user}' but the agent runs as uid ${deps.currentUid}, not root: only root can start actions as another user. Run the agent as root (USER root in the image) or remove worker.run_as_user`,
    );
  }
  let uid: number;
  let primaryGid: number | null = null;
  const passwd = readDb(deps, '/etc/passwd');
  if (NUMERIC.test(user)) {
    uid = Number(user);
    const entry = passwd.find((e) => e.id === uid);
    if (entry && Number.isInteger(entry.gid)) primaryGid = entry.gid;
  } else {
    const entry = passwd.find((e) => e.name === user);
    if (!entry) throw new RunAsError('worker.run_as_user', `names user '${user}', which is not in /etc/passwd of this image; use a numeric uid or add the user`);
    uid = entry.id;
    if (Number.isInteger(entry.gid)) primaryGid = entry.gid;
  }
  if (uid === 0) throw new RunAsError('worker.run_as_user', `is '${user}', which is root (uid 0): that would not isolate actions; choose an unprivileged user`);
  let gid: number;
  if (group !== null) {
    if (NUMERIC.test(group)) gid = Number(group);
    else {
      const entry = readDb(deps, '/etc/group').find((e) => e.name === group);
      if (!entry) throw new RunAsError('worker.run_as_group', `names group '${group}', which is not in /etc/group of this image; use a numeric gid or add the group`);
      gid = entry.id;
    }
  } else if (primaryGid !== null) {
    gid = primaryGid;
  } else {
    throw new RunAsError('worker.run_as_group', `must be set: uid ${uid} has no /etc/passwd entry to take its primary group from`);
  }
  return { uid, gid };
}

export class RunAsError extends Error {
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${key} ${detail}`);
    this.name = 'RunAsError';
  }
}

/** For `checkRunConfig`: the problems of the settings (empty when off or valid). */
export function runAsProblems(worker: Pick<WorkerConfig, 'runAsUser' | 'runAsGroup'>, deps: RunAsDeps = defaultDeps()): ConfigProblem[] {
  try {
    resolveRunAs(worker, deps);
    return [];
  } catch (e) {
    if (e instanceof RunAsError) return [{ key: e.key, message: e.detail }];
    throw e;
  }
}

const cache = new WeakMap<object, RunAs | null>();

/**
 * Resolved once per (frozen) worker config object: prepare.ts calls this for every execution.
 * A config that fails here was already refused at start-up by `checkRunConfig`.
 */
export function runAsForConfig(worker: Pick<WorkerConfig, 'runAsUser' | 'runAsGroup'>): RunAs | null {
  if (worker.runAsUser === null && worker.runAsGroup === null) return null;
  if (!cache.has(worker)) cache.set(worker, resolveRunAs(worker));
  return cache.get(worker) ?? null;
}
