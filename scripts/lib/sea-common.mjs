// Shared by scripts/build-sea.mjs and its helpers (scripts/lib/sea-sources.mjs): the SEA's
// constants (prefix, fuse, bundled libs, arches), the repo's package.json and cache dir, and small
// helpers (logging, running tools, hashing, ELF machine).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the bundle is installed in every image (spec 05 §3, §4: the agent_bin volume mount). */
export const DEFAULT_PREFIX = '/opt/attune/agent';
/** Sentinel postject flips from `:0` to `:1` (spec 05 §10). */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** NEEDED of the official Node 24 linux builds, minus the loader (spec 05 §15.1). */
export const BUNDLED_LIBS = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'libstdc++.so.6', 'libgcc_s.so.1'];
/** Debian packages those libs come from (spec 05 §14). */
export const LIB_PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1'];

export const ARCHES = {
  x64: { deb: 'amd64', triple: 'x86_64-linux-gnu', loader: 'ld-linux-x86-64.so.2', elfMachine: 0x3e },
  arm64: { deb: 'arm64', triple: 'aarch64-linux-gnu', loader: 'ld-linux-aarch64.so.1', elfMachine: 0xb7 },
};

export const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// ATTUNE_AGENT_CACHE_DIR (set by .ci/run) keeps downloads outside the clone, so a fresh clone
// on the same machine reuses them.
export const cacheDir = join(process.env.ATTUNE_AGENT_CACHE_DIR || join(root, '.cache'), 'sea');

export function log(msg) {
  process.stderr.write(`build-sea: ${msg}\n`);
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${(r.stderr || '') + (r.stdout || '')}`.trim());
  }
  return r.stdout;
}

function hasCommand(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error;
}

export function requireCommand(cmd, debPackage) {
  if (!hasCommand(cmd)) {
    throw new Error(`'${cmd}' not found: install Debian package ${debPackage} (scripts/install-build-deps.sh)`);
  }
}

export function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function hostArch() {
  if (process.arch === 'x64' || process.arch === 'arm64') return process.arch;
  throw new Error(`unsupported build host arch ${process.arch} (need x64 or arm64)`);
}

/** e_machine of an ELF64 little-endian file, or null if it is not one. */
export function elfMachine(path) {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  let n;
  try {
    n = readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 20 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return null;
  return head.readUInt16LE(18);
}

export function countOccurrences(buf, needle) {
  let n = 0;
  for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + 1)) n++;
  return n;
}
