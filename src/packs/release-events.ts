/**
 * The API pack transport as the pack lifecycle consumers' `PackReleaseCache` (spec 06 §6.1,
 * upstream `crates/worker/src/service.rs` @f3e5d1c pack consumer): registered → `sync_release` of
 * the announced release before runtime environments are built; deleted → remove
 * `{packs_base_dir}/{pack_ref}` (legacy layout) and the release trees of the listed
 * `release_digests` (only trees this cache published). The volume transport's implementation is
 * `createLocalPackCache` in worker/pack-cache.ts.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log';
import type { ApiPackTransport } from './api-transport';
import type { PackReleaseCache } from './release-cache-port';
import { isValidDigest } from './release-layout';

export function createApiReleaseCache(opts: { transport: ApiPackTransport; packsBaseDir: string; log: Logger }): PackReleaseCache {
  const { transport, log } = opts;
  return {
    async releaseRegistered(release) {
      if (release.releaseId === null || release.releaseDigest === null) return;
      await transport.syncRelease(release.packRef, release.releaseId, release.releaseDigest);
      log.info({ packRef: release.packRef, releaseId: release.releaseId, digest: release.releaseDigest }, 'pack.registered: release is local');
    },
    releaseDir(packRef, releaseId, digest) {
      return transport.syncRelease(packRef, releaseId, digest);
    },
    async packDeleted(packRef, releaseDigests) {
      await rm(join(opts.packsBaseDir, packRef), { recursive: true, force: true });
      const removed: string[] = [];
      for (const d of releaseDigests) if (isValidDigest(d) && (await transport.cache.remove(d))) removed.push(d);
      log.info({ packRef, removedReleases: removed }, 'pack.deleted: local pack files removed');
    },
  };
}
