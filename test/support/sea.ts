/**
 * Builds the single-executable bundle once for the SEA e2e tests and runs it where it can run: at
 * its fixed install path /opt/attune/agent (spec 05 §15.3 — PT_INTERP is absolute).
 *
 * The expensive build (`scripts/build-sea.mjs`, ~15 s per arch with warm caches) runs only when
 * dist/agent-linux-<arch>/attune-agent is missing or older than anything it is built from.
 * `ATTUNE_SEA_BUNDLE=/path/to/bundle.cjs` embeds that file instead of building src/main.ts
 * (for trying the pipeline with another entry); parity tests then compare against it too.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const INSTALL_DIR = '/opt/attune/agent';
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** The PATH a Docker/Kubernetes container gets when the image sets none. */
export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type SeaArch = 'x64' | 'arm64';

export interface SeaBuild {
  readonly arch: SeaArch;
  /** dist/agent-linux-<arch> */
  readonly dir: string;
  readonly binary: string;
  readonly libDir: string;
  readonly tarball: string;
}

export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Also the modules scripts/build.mjs puts in the bundle in place of dependencies' own.
const SOURCE_INPUTS = [
  'src',
  'scripts/build.mjs',
  'scripts/lib/pg-node-stream.cjs',
  'scripts/lib/prom-client-unused.cjs',
  'scripts/build-sea.mjs',
  'scripts/lib/sea-common.mjs',
  'scripts/lib/sea-sources.mjs',
  'sea-config.json',
  'package.json',
];

function newestMtimeMs(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, name)));
  return newest;
}

function customBundle(): string | undefined {
  const b = process.env.ATTUNE_SEA_BUNDLE;
  return b ? resolve(b) : undefined;
}

function inputsMtimeMs(): number {
  const inputs = SOURCE_INPUTS.map((p) => join(REPO_ROOT, p));
  const bundle = customBundle();
  if (bundle) inputs.push(bundle);
  return Math.max(...inputs.map(newestMtimeMs));
}

function toResult(r: SpawnSyncReturns<string>, what: string): RunResult {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Run a command without blocking the event loop (a blocking spawnSync of a 30 s build starves
 * vitest's worker RPC); resolves with its exit status and output.
 */
export function runAsync(cmd: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 900_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolvePromise({ status, signal, stdout, stderr }));
  });
}

/** dist/agent-linux-<arch>/, (re)built by scripts/build-sea.mjs when missing or stale. */
export async function ensureSeaBuilt(arch: SeaArch = 'x64'): Promise<SeaBuild> {
  const dir = join(REPO_ROOT, 'dist', `agent-linux-${arch}`);
  const binary = join(dir, 'attune-agent');
  const tarball = join(REPO_ROOT, 'dist', `agent-linux-${arch}.tar.gz`);
  const built = statSync(binary, { throwIfNoEntry: false });
  if (!built || !existsSync(tarball) || built.mtimeMs < inputsMtimeMs()) {
    const args = ['scripts/build-sea.mjs', '--arch', arch];
    const bundle = customBundle();
    if (bundle) args.push('--bundle', bundle);
    const r = await runAsync(process.execPath, args, { cwd: REPO_ROOT, timeoutMs: 600_000 });
    if (r.status !== 0) {
      throw new Error(`npm run build:sea -- --arch ${arch} failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
    }
  }
  return { arch, dir, binary, libDir: join(dir, 'lib'), tarball };
}

/** The plain CJS bundle the SEA must behave like (`node dist/attune-agent.cjs`), rebuilt when stale. */
export async function ensurePlainBundle(): Promise<string> {
  const custom = customBundle();
  if (custom) return custom;
  const out = join(REPO_ROOT, 'dist', 'attune-agent.cjs');
  const built = statSync(out, { throwIfNoEntry: false });
  if (!built || built.mtimeMs < inputsMtimeMs()) {
    const r = await runAsync(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
    if (r.status !== 0) throw new Error(`npm run build failed (status ${r.status}):\n${r.stderr}${r.stdout}`);
  }
  return out;
}

export interface HostRunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly input?: string;
}

/**
 * Run `cmd args` on this host inside a private mount namespace where `build.dir` is bind-mounted
 * read-only at /opt/attune/agent (a tmpfs hides the host's /opt there), i.e. as in a worker
 * container with the agent volume — without touching the host's own /opt. `cmd` may be the
 * installed agent or anything else (e.g. `node dist/attune-agent.cjs` for a same-conditions
 * comparison).
 */
export function runInAgentNamespace(build: SeaBuild, cmd: string, args: readonly string[], opts: HostRunOptions = {}): RunResult {
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 attune-opt /opt',
    `mkdir -p ${INSTALL_DIR}`,
    `mount --bind "$0" ${INSTALL_DIR}`,
    `mount -o remount,bind,ro ${INSTALL_DIR}`,
    'exec "$@"',
  ].join('\n');
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, build.dir, cmd, ...args],
    { encoding: 'utf8', env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, input: opts.input ?? '' },
  );
  return toResult(r, `unshare … ${cmd}`);
}

/** The installed agent (`/opt/attune/agent/attune-agent args`) run via {@link runInAgentNamespace}. */
export function runSeaOnHost(build: SeaBuild, args: readonly string[], opts: HostRunOptions = {}): RunResult {
  return runInAgentNamespace(build, `${INSTALL_DIR}/attune-agent`, args, opts);
}

/** `readelf` output (any arch: readelf reads foreign ELF files). */
export function readelf(flags: string, file: string): string {
  const r = spawnSync('readelf', [flags, file], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`readelf ${flags} ${file}: ${r.stderr}`);
  return r.stdout;
}
