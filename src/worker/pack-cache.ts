/**
 * The single place the pack lifecycle consumers tell the local pack store about releases
 * (spec 07 §3.1 steps 4–5, §3.2 step 1, §1.2 step 9). The volume transport owns nothing (the
 * shared volume is authoritative, upstream `pack_transport/volume.rs`); the API transport's
 * cache replaces `createLocalPackCache` with its own implementation of `PackReleaseCache`.
 */
import { lstat, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transport } from '../config/types';
import type { PackReleaseCache } from '../packs/release-cache-port';
import { isValidDigest, RELEASE_DIGEST_RE, RELEASE_READY_MARKER, releasePackDir } from '../packs/release-layout';

export { RELEASE_DIGEST_RE, RELEASE_READY_MARKER };

export type { PackReleaseCache, RegisteredRelease } from '../packs/release-cache-port';

/** `{packs_base_dir}/.releases/sha256/<digest>/pack`; throws for a digest that is not 64 lowercase hex. */
export function releaseCachePath(packsBaseDir: string, digest: string): string {
  if (!isValidDigest(digest)) throw new Error(`invalid pack release digest ${JSON.stringify(digest.slice(0, 80))}: expected 64 lowercase hex characters`);
  return releasePackDir(packsBaseDir, digest);
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
