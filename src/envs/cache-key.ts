/**
 * Content-addressed runtime environment key (spec 03 §7.2, upstream
 * `crates/common/src/runtime_cache.rs`). A TS agent sharing `runtime_envs_dir` with Rust workers
 * gets the same directory only if every input matches byte for byte (spec 03 §11.7), so the
 * platform string uses Rust's `std::env::consts` names.
 */
import { createHash } from 'node:crypto';

export const RUNTIME_CACHE_FORMAT_VERSION = '1';
export const READY_MARKER = '.attune-runtime-ready';
/** Names the pack a content-addressed env was built for (upstream `PACK_REF_MARKER`). */
export const PACK_REF_MARKER = '.attune-pack-ref';

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const DIGEST = /^[0-9a-f]{64}$/;

/** Upstream `validate_digest`: 64 lower-case hex characters. */
export function isSha256Digest(value: string): boolean {
  return DIGEST.test(value);
}

export interface RuntimeCacheKeyInput {
  releaseDigest: string;
  dependencyDigest: string;
  runtimeName: string;
  /** Selected runtime version, or `default`. */
  runtimeVersion: string;
  /** `"{os}:{arch}:{libc}"`, see `rustPlatformString`. */
  platform: string;
  /** `ATTUNE_WORKER_IMAGE_FORMAT_VERSION`, else the agent version. */
  workerImageFormat: string;
}

/**
 * Lower-hex SHA-256 over the length-prefixed values (8-byte little-endian byte length, then the
 * UTF-8 bytes), in upstream's order. Returns null when a digest is not lower-case SHA-256 —
 * upstream then falls back to the legacy layout (`RuntimeCacheKey::new(..).ok()`).
 */
export function computeRuntimeCacheKey(input: RuntimeCacheKeyInput): string | null {
  if (!isSha256Digest(input.releaseDigest) || !isSha256Digest(input.dependencyDigest)) return null;
  const hash = createHash('sha256');
  for (const value of [
    RUNTIME_CACHE_FORMAT_VERSION,
    input.releaseDigest,
    input.dependencyDigest,
    input.runtimeName,
    input.runtimeVersion,
    input.platform,
    input.workerImageFormat,
  ]) {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(bytes.length));
    hash.update(length);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

// Node `process.platform` / `process.arch` → Rust `std::env::consts::OS` / `ARCH`.
const RUST_OS: Readonly<Record<string, string>> = {
  linux: 'linux',
  darwin: 'macos',
  win32: 'windows',
  freebsd: 'freebsd',
  openbsd: 'openbsd',
  netbsd: 'netbsd',
  sunos: 'solaris',
  aix: 'aix',
  android: 'android',
};

const RUST_ARCH: Readonly<Record<string, string>> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  ia32: 'x86',
  arm: 'arm',
  ppc64: 'powerpc64',
  ppc: 'powerpc',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  mips: 'mips',
  mipsel: 'mips',
};

let cachedLibc: string | undefined;

/**
 * Rust's `target_env` as upstream reports it (`gnu`, `musl`, else `other`). Rust bakes in the
 * build target; the closest runtime equivalent is whether the running Node links glibc.
 */
export function detectLibc(platform: string = process.platform): string {
  if (platform !== 'linux') return 'other';
  if (cachedLibc !== undefined) return cachedLibc;
  let libc = 'musl';
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    if (report?.header?.glibcVersionRuntime) libc = 'gnu';
  } catch {
    libc = 'gnu';
  }
  cachedLibc = libc;
  return libc;
}

/** `"{os}:{arch}:{libc}"` in Rust names, e.g. `linux:x86_64:gnu`. */
export function rustPlatformString(
  platform: string = process.platform,
  arch: string = process.arch,
  libc: string = detectLibc(platform),
): string {
  return `${RUST_OS[platform] ?? platform}:${RUST_ARCH[arch] ?? arch}:${libc}`;
}
