/**
 * Root filesystems standing in for user images (built by scripts/rootfs.sh, cached under
 * .cache/rootfs/) and a way to run the agent inside one under `chroot`, with the agent directory
 * bind-mounted read-only at /opt/attune/agent (spec 05 §7 item 2: the agent volume is read-only)
 * and /proc mounted (as Docker/Kubernetes do). Needs root.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { RUNTIME_CANDIDATES } from '../../src/detect/candidates';
import { CONTAINER_PATH, INSTALL_DIR, REPO_ROOT, runAsync, type RunResult, type SeaArch } from './sea';

export type RootName = 'debian' | 'node-builder' | 'busybox' | 'musl' | 'empty' | 'busybox-arm64';

/** Path of the cached root, built by scripts/rootfs.sh when missing (debian: a few minutes once). */
export async function ensureRootfs(name: RootName): Promise<string> {
  const r = await runAsync('sh', [join(REPO_ROOT, 'scripts', 'rootfs.sh'), name], { cwd: REPO_ROOT, timeoutMs: 900_000 });
  if (r.status !== 0) throw new Error(`scripts/rootfs.sh ${name} failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1]!;
}

function mountPoints(): string[] {
  // /proc/self/mountinfo field 5 is the mount point, octal-escaped.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

function sh(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

/** Unmount everything at or below `root` (deepest first); leftovers of a crashed run included. */
export function unmountAll(root: string): void {
  const abs = resolve(root);
  const mine = mountPoints()
    .filter((m) => m === abs || m.startsWith(`${abs}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mine) {
    const r = spawnSync('umount', [m], { encoding: 'utf8' });
    if (r.status !== 0) sh('umount', ['-l', m]);
  }
}

export interface ChrootOptions {
  /** Full environment inside the root; default: only PATH (as a container whose image sets none). */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

export interface MountedRoot {
  readonly root: string;
  /** Run the agent at /opt/attune/agent/attune-agent inside the root. */
  runAgent(args: readonly string[], opts?: ChrootOptions): RunResult;
  /** Run any command inside the root (for comparing with what the root itself reports). */
  run(argv: readonly string[], opts?: ChrootOptions): RunResult;
  unmount(): void;
}

/**
 * Bind `agentDir` read-only at <root>/opt/attune/agent and mount /proc. For an arm64 root the
 * agent is started through /usr/bin/qemu-aarch64-static inside the root (qemu-user; no binfmt
 * registration needed). Call `unmount()` in afterAll.
 */
export function mountAgentInRoot(root: string, agentDir: string, arch: SeaArch = 'x64'): MountedRoot {
  unmountAll(root);
  const agentMount = join(root, INSTALL_DIR);
  sh('mount', ['--bind', agentDir, agentMount]);
  sh('mount', ['-o', 'remount,bind,ro', agentMount]);
  sh('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  const run = (argv: readonly string[], opts: ChrootOptions = {}): RunResult => {
    const r = spawnSync('/usr/sbin/chroot', [root, ...argv], {
      encoding: 'utf8',
      env: opts.env ?? { PATH: CONTAINER_PATH },
      timeout: opts.timeoutMs ?? 120_000,
      input: '',
    });
    if (r.error) throw new Error(`chroot ${root} ${argv.join(' ')}: ${r.error.message}`);
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };
  const exe = `${INSTALL_DIR}/attune-agent`;
  return {
    root,
    run,
    runAgent: (args, opts) => run(arch === 'arm64' ? ['/usr/bin/qemu-aarch64-static', exe, ...args] : [exe, ...args], opts),
    unmount: () => unmountAll(root),
  };
}

/**
 * realpath of `path` as seen from inside `root`: every component's symlink is followed, absolute
 * targets relative to the root (so /bin -> usr/bin and /bin/sh -> /bin/busybox both resolve).
 * Returns null when something on the way does not exist.
 */
export function realpathInRoot(root: string, path: string): string | null {
  const pending = path.split('/').filter(Boolean);
  const done: string[] = [];
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return `/${done.join('/')}`;
}

function isExecutableIn(root: string, path: string): boolean {
  const real = realpathInRoot(root, path);
  if (!real) return false;
  const st = statSync(join(root, real));
  return st.isFile() && (st.mode & 0o111) !== 0;
}

/**
 * What the root itself contains, independent of the agent: for each candidate runtime (spec 01
 * §3.1) the first of its binaries found as an executable file on `path` inside the root.
 */
export function interpretersInRoot(root: string, path = CONTAINER_PATH): Map<string, string> {
  const found = new Map<string, string>();
  const dirs = path.split(':').filter(Boolean);
  for (const c of RUNTIME_CANDIDATES) {
    outer: for (const bin of c.binaries) {
      for (const d of dirs) {
        if (isExecutableIn(root, `${d}/${bin}`)) {
          found.set(c.name, `${d}/${bin}`);
          break outer;
        }
      }
    }
  }
  return found;
}
