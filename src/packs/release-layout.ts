/**
 * Where pinned pack releases live on disk (spec 06 §6.3, spec 03 §1.5) and when one counts as
 * ready. Upstream's layout, so volume- and API-mode workers (and upstream's own) agree:
 *
 *   {packs_base_dir}/.releases/sha256/<digest>/pack/            the pack root (pack.yaml inside)
 *   {packs_base_dir}/.releases/sha256/<digest>/.attune-release-ready   marker = the digest
 *
 * Our additions beside it (names upstream never reads):
 *   .releases/sha256/.<digest>.<uuid>.tmp     a release being unpacked (never looks ready)
 *   .releases/sha256/.<digest>.<uuid>.evict   a release being removed
 *   .releases/leases/<digest>/<host>-<pid>    "a process on <host> runs from this release"
 *   .pack-downloads/<uuid>.tar.gz             an archive being downloaded (upstream's path)
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const RELEASE_READY_MARKER = '.attune-release-ready';
/** A release digest: sha256, 64 lowercase hex. */
export const RELEASE_DIGEST_RE = /^[0-9a-f]{64}$/;

export function isValidDigest(digest: string): boolean {
  return RELEASE_DIGEST_RE.test(digest);
}

export function releaseCacheRoot(packsBaseDir: string): string {
  return join(packsBaseDir, '.releases', 'sha256');
}

export function releaseDir(packsBaseDir: string, digest: string): string {
  return join(releaseCacheRoot(packsBaseDir), digest);
}

/** The directory executions of this release run from (spec 03 §1.5). */
export function releasePackDir(packsBaseDir: string, digest: string): string {
  return join(releaseDir(packsBaseDir, digest), 'pack');
}

export function leasesRoot(packsBaseDir: string): string {
  return join(packsBaseDir, '.releases', 'leases');
}

export function downloadsDir(packsBaseDir: string): string {
  return join(packsBaseDir, '.pack-downloads');
}

/** upstream `release_is_ready`: `pack/pack.yaml` is a file and the marker's trimmed text is the digest. */
export function isReleaseReadyAt(dir: string, digest: string): boolean {
  try {
    if (!statSync(join(dir, 'pack', 'pack.yaml')).isFile()) return false;
    return readFileSync(join(dir, RELEASE_READY_MARKER), 'utf8').trim() === digest;
  } catch {
    return false;
  }
}

export function isReleaseReady(packsBaseDir: string, digest: string): boolean {
  return isValidDigest(digest) && isReleaseReadyAt(releaseDir(packsBaseDir, digest), digest);
}
