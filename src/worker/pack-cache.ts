/**
 * The single place the pack lifecycle consumers tell the local pack store about releases
 * (spec 07 §3.1 steps 4–5, §3.2 step 1, §1.2 step 9). The volume transport owns nothing (the
 * shared volume is authoritative, upstream `pack_transport/volume.rs`); the API transport's
 * cache replaces `createLocalPackCache` with its own implementation of `PackReleaseCache`.
 */
import { lstat, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transport } from '../config/types';

export const RELEASE_DIGEST_RE = /^[0-9a-f]{64}$/;
/** Sibling marker of `pack/` that records the digest of a completed download (spec 07 §3.2). */
export const RELEASE_READY_MARKER = '.attune-release-ready';

export interface RegisteredRelease {
  packId: number;
  packRef: string;
  releaseId: number | null;
  releaseDigest: string | null;
}

export interface PackReleaseCache {
  /** pack.registered: make the release available locally (API: download; volume: nothing). */
  releaseRegistered(release: RegisteredRelease): Promise<void>;
  /**
   * The directory a release's files are in; throws when it is not present on this worker.
   * `digest` is validated (64 lowercase hex) before any path is built.
   */
  releaseDir(packRef: string, releaseId: number | null, digest: string): Promise<string>;
  /** pack.deleted after the stale-delete guard: drop local pack files and cached releases. */
  packDeleted(packRef: string, releaseDigests: readonly string[]): Promise<void>;
}

/** `{packs_base_dir}/.releases/sha256/<digest>/pack`; throws for a digest that is not 64 lowercase hex. */
export function releaseCachePath(packsBaseDir: string, digest: string): string {
  if (!RELEASE_DIGEST_RE.test(digest)) throw new Error(`invalid pack release digest ${JSON.stringify(digest.slice(0, 80))}: expected 64 lowercase hex characters`);
  return join(packsBaseDir, '.releases', 'sha256', digest, 'pack');
}

export function createLocalPackCache(opts: { packsBaseDir: string; transport: Transport }): PackReleaseCache {
  const isApi = opts.transport === 'api';
  return {
    async releaseRegistered() {
      // Volume: the shared volume is authoritative. API downloads belong to the API pack cache.
    },
    async releaseDir(_packRef, releaseId, digest) {
      const dir = releaseCachePath(opts.packsBaseDir, digest);
      const st = await stat(join(dir, 'pack.yaml')).catch(() => null);
      if (!st?.isFile()) {
        throw new Error(`pack release ${releaseId ?? '?'} (${digest}) is not present at ${dir}${isApi ? ' (no API pack cache configured)' : ''}`);
      }
      return dir;
    },
    async packDeleted(packRef, releaseDigests) {
      // Volume transport: managed externally (upstream remove_pack / remove_pack_releases no-ops).
      if (!isApi) return;
      const legacy = join(opts.packsBaseDir, packRef);
      if ((await lstat(legacy).catch(() => null))?.isDirectory()) await rm(legacy, { recursive: true, force: true });
      for (const digest of releaseDigests) {
        const packDir = releaseCachePath(opts.packsBaseDir, digest);
        const releaseRoot = join(packDir, '..');
        // Only a tree whose marker holds this digest is ours to remove (upstream remove_release_tree).
        const marker = await readFile(join(releaseRoot, RELEASE_READY_MARKER), 'utf8').catch(() => null);
        const st = await lstat(releaseRoot).catch(() => null);
        if (marker?.trim() === digest && st?.isDirectory()) await rm(releaseRoot, { recursive: true, force: true });
      }
    },
  };
}
