/**
 * A small container runtime for the e2e tests that need "a container" without Docker or
 * Kubernetes: each container is a process tree in its own mount, UTS and PID namespaces
 * (`unshare --mount --uts --pid --fork`), sharing the host network (so 127.0.0.1 reaches the
 * test PostgreSQL and RabbitMQ), chrooted into an overlay of a cached root filesystem
 * (test/support/rootfs.ts) — the image, never written to — with:
 *   - volumes bind-mounted at their mount paths, read-only where asked (Kubernetes `readOnly`);
 *   - /proc of the container's own PID namespace, and a /dev with null, zero, full, random,
 *     urandom, tty (what runc provides);
 *   - the hostname set (a pod's hostname is its name);
 *   - optionally a read-only root filesystem (`securityContext.readOnlyRootFilesystem`);
 *   - optionally a non-root user: `chroot --userspec` switches to uid/gid (+ supplementary groups,
 *     e.g. the pod's fsGroup) after entering the root, which clears every capability, and
 *     `setpriv --no-new-privs` stands for `allowPrivilegeEscalation: false`;
 *   - `command` as PID 1, with exactly `env` as its environment (no host variables leak in).
 *
 * Every mount lives in the container's private mount namespace, so nothing shows up in (or
 * can leak into) the host's mount table, whatever happens to the test; the overlay's writable
 * layer is a directory under the caller's work dir. `--kill-child` takes the container down
 * when the `unshare` parent is killed. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface VolumeMount {
  /** Host directory (or file). */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly mountPath: string;
  readonly readOnly?: boolean;
}

export interface ContainerSpec {
  /** For messages and the overlay directories' names. */
  readonly name: string;
  /** Root filesystem directory of the "image" (the overlay's read-only lower layer). */
  readonly image: string;
  /** Parts of the image supplied as read-only bind mounts (e.g. the agent bundle of the agent-init image). */
  readonly imageMounts?: readonly VolumeMount[];
  readonly volumes?: readonly VolumeMount[];
  /** argv of PID 1 (Kubernetes `command` + `args`). */
  readonly command: readonly string[];
  /** The container's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly hostname?: string;
  readonly readOnlyRootFilesystem?: boolean;
  /** securityContext runAsUser / runAsGroup, plus supplementary groups (fsGroup, supplementalGroups). */
  readonly runAs?: { readonly uid: number; readonly gid: number; readonly groups?: readonly number[] };
  /** securityContext.allowPrivilegeEscalation: false → the no_new_privs bit. */
  readonly noNewPrivs?: boolean;
  /** Directory for the overlay's upper/work/merged dirs (removed by the caller). */
  readonly workDir: string;
}

export interface ContainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type OutputLine = { readonly stream: 'stdout' | 'stderr'; readonly text: string; readonly at: number; readonly json?: Record<string, unknown> };

export interface Container {
  readonly name: string;
  readonly lines: OutputLine[];
  stdout(): string;
  stderr(): string;
  /** Last `n` output lines (both streams), for assertion messages. */
  tail(n?: number): string;
  readonly exited: Promise<ContainerExit>;
  isRunning(): boolean;
  /** Host PID of the container's PID 1 (the command), once it exists. */
  pid1(timeoutMs?: number): Promise<number>;
  /** First line matching (already seen or future); rejects on exit or after `timeoutMs`. */
  waitForLine(match: RegExp | ((l: OutputLine) => boolean), timeoutMs?: number): Promise<OutputLine>;
  /** Send `signal` to PID 1 (like `kubectl delete pod` sends SIGTERM to each container's PID 1). */
  signal(sig: NodeJS.Signals): Promise<void>;
  /** SIGKILL the whole container (no-op when it already exited). */
  kill(): void;
}

/** Single-quote for /bin/sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** The /bin/sh script (run as PID 1 of the new namespaces, before the chroot) that assembles the root. */
function setupScript(spec: ContainerSpec, dirs: { upper: string; work: string; merged: string }): string {
  const m = dirs.merged;
  const lines = [
    'set -e',
    `mount -t overlay overlay -o ${shq(`lowerdir=${spec.image},upperdir=${dirs.upper},workdir=${dirs.work}`)} ${shq(m)}`,
  ];
  for (const v of [...(spec.imageMounts ?? []), ...(spec.volumes ?? [])]) {
    const target = `${m}${v.mountPath}`;
    // A file volume (ConfigMap item with subPath) needs a file to mount onto.
    lines.push(`if [ -d ${shq(v.source)} ]; then mkdir -p ${shq(target)}; else mkdir -p "$(dirname ${shq(target)})"; touch ${shq(target)}; fi`);
    lines.push(`mount --bind ${shq(v.source)} ${shq(target)}`);
    if (v.readOnly) lines.push(`mount -o remount,bind,ro ${shq(target)}`);
  }
  lines.push(`mkdir -p ${shq(`${m}/proc`)} ${shq(`${m}/dev`)}`);
  lines.push(`mount -t proc proc ${shq(`${m}/proc`)}`);
  lines.push(`mount -t tmpfs -o mode=755,size=1m,nosuid dev ${shq(`${m}/dev`)}`);
  for (const n of DEV_NODES) lines.push(`touch ${shq(`${m}/dev/${n}`)} && mount --bind /dev/${n} ${shq(`${m}/dev/${n}`)}`);
  lines.push(`ln -s /proc/self/fd ${shq(`${m}/dev/fd`)}`);
  for (const [i, n] of ['stdin', 'stdout', 'stderr'].entries()) lines.push(`ln -s /proc/self/fd/${i} ${shq(`${m}/dev/${n}`)}`);
  if (spec.hostname) lines.push(`hostname ${shq(spec.hostname)}`);
  // Remounting the overlay read-only leaves the volume mounts on top of it writable.
  if (spec.readOnlyRootFilesystem) lines.push(`mount -o remount,ro ${shq(m)}`);
  lines.push('exec "$@"');
  return lines.join('\n');
}

/** `[setpriv --no-new-privs] chroot [--userspec=uid:gid --groups=…]`, the root dir follows. */
function privilegeArgs(spec: ContainerSpec): string[] {
  const args = spec.noNewPrivs ? ['/usr/bin/setpriv', '--no-new-privs'] : [];
  args.push('/usr/sbin/chroot');
  if (spec.runAs) {
    args.push(`--userspec=${spec.runAs.uid}:${spec.runAs.gid}`);
    args.push(`--groups=${[...new Set([spec.runAs.gid, ...(spec.runAs.groups ?? [])])].join(',')}`);
  }
  return args;
}

/**
 * What the kubelet does to a volume for the pod's `fsGroup`: group ownership `gid`, group
 * read/write (and setgid on directories, so new files inherit the group) for everything in it.
 */
export function applyFsGroup(dir: string, gid: number): void {
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    chownSync(p, st.uid, gid);
    chmodSync(p, (st.mode & 0o7777) | (st.isDirectory() ? 0o2070 : 0o060));
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
}

/** Start a container; its output is collected, JSON lines parsed (the agent logs with pino). */
export function startContainer(spec: ContainerSpec): Container {
  const base = join(spec.workDir, `ctr-${spec.name}-${Date.now().toString(36)}`);
  const dirs = { upper: join(base, 'upper'), work: join(base, 'work'), merged: join(base, 'merged') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const envArgs = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  const child: ChildProcess = spawn(
    'unshare',
    [
      '--mount', '--uts', '--pid', '--fork', '--kill-child', '--propagation', 'private',
      '/bin/sh', '-c', setupScript(spec, dirs), 'container-setup',
      // Host tools, run before the root changes: a clean environment, then chroot into the image.
      '/usr/bin/env', '-i', ...envArgs, ...privilegeArgs(spec), dirs.merged, ...spec.command,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
  const verbose = process.env.ATTUNE_E2E_VERBOSE === '1';
  const lines: OutputLine[] = [];
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  const collect = (stream: 'stdout' | 'stderr'): ((chunk: string) => void) => {
    let partial = '';
    return (chunk) => {
      if (stream === 'stdout') out += chunk;
      else err += chunk;
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const text = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (text.trim() === '') continue;
        let json: Record<string, unknown> | undefined;
        if (text.startsWith('{')) {
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
        }
        lines.push({ stream, text, at: Date.now(), ...(json ? { json } : {}) });
        if (verbose) process.stderr.write(`[${spec.name} ${stream}] ${text}\n`);
      }
      notify();
    };
  };
  child.stdout?.setEncoding('utf8').on('data', collect('stdout'));
  child.stderr?.setEncoding('utf8').on('data', collect('stderr'));
  let exitInfo: ContainerExit | null = null;
  const exited = new Promise<ContainerExit>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
      notify();
    });
  });
  const tail = (n = 40): string => lines.slice(-n).map((l) => `${l.stream === 'stderr' ? 'stderr: ' : ''}${l.text}`).join('\n');

  let pid1: number | null = null;
  const findPid1 = async (timeoutMs = 10_000): Promise<number> => {
    if (pid1 !== null) return pid1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitInfo) throw new Error(`container ${spec.name} exited before its PID 1 was seen\n${tail()}`);
      try {
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
        if (kids.length > 0) {
          pid1 = Number(kids[0]);
          return pid1;
        }
      } catch {
        /* not forked yet */
      }
      if (Date.now() > deadline) throw new Error(`container ${spec.name}: no PID 1 after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  return {
    name: spec.name,
    lines,
    stdout: () => out,
    stderr: () => err,
    tail,
    exited,
    isRunning: () => exitInfo === null,
    pid1: findPid1,
    waitForLine(match, timeoutMs = 30_000) {
      const test = typeof match === 'function' ? match : (l: OutputLine) => match.test(l.text);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find(test);
          if (hit) {
            done();
            resolve(hit);
          } else if (exitInfo) {
            done();
            reject(new Error(`container ${spec.name} exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before printing ${String(match)}\n${tail()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`container ${spec.name} did not print ${String(match)} within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async signal(sig) {
      // The command is PID 1 only after the setup script exec'd it: wait for the chroot.
      const pid = await findPid1();
      const deadline = Date.now() + 10_000;
      const isCommand = (): boolean => {
        try {
          const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return readlinkSync(`/proc/${pid}/root`) !== '/' && comm !== 'chroot' && comm !== 'setpriv';
        } catch {
          return false;
        }
      };
      while (!isCommand()) {
        if (exitInfo || Date.now() > deadline) throw new Error(`container ${spec.name}: PID 1 never became ${spec.command[0]}\n${tail()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      process.kill(pid, sig);
    },
    kill() {
      if (exitInfo === null) child.kill('SIGKILL');
    },
  };
}

/** Run a container to completion (an init container); SIGKILLs it after `timeoutMs`. */
export async function runContainer(spec: ContainerSpec, timeoutMs = 120_000): Promise<{ container: Container; exit: ContainerExit; durationMs: number }> {
  const started = Date.now();
  const container = startContainer(spec);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    container.exited,
    new Promise<ContainerExit>((_, reject) => {
      timer = setTimeout(() => {
        container.kill();
        reject(new Error(`container ${spec.name} did not finish within ${timeoutMs} ms\n${container.tail()}`));
      }, timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return { container, exit, durationMs: Date.now() - started };
}
