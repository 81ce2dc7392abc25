/**
 * pack.registered / pack.deleted for the API pack transport (spec 06 §6.1, upstream
 * `crates/worker/src/service.rs` @f3e5d1c pack consumer): registered → `sync_release` of the
 * announced release before runtime environments are built (failure is a warning); deleted →
 * remove `{packs_base_dir}/{pack_ref}` (legacy layout) and the release trees of the listed
 * `release_digests`. Called by worker/pack-events.ts; never throws.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log';
import { toError } from '../errors';
import { isValidPackRef } from '../mq/messages';
import type { ApiPackTransport } from './api-transport';
import { isValidDigest } from './release-layout';

export interface ReleaseEventsHook {
  onPackEvent(messageType: string, payload: unknown): Promise<void>;
}

export function createReleaseEvents(opts: { transport: ApiPackTransport; packsBaseDir: string; log: Logger }): ReleaseEventsHook {
  const log = opts.log;
  return {
    async onPackEvent(messageType, payload) {
      const p = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
      const packRef = typeof p.pack_ref === 'string' && isValidPackRef(p.pack_ref) ? p.pack_ref : null;
      if (packRef === null) return; // the packs consumer rejects the message itself
      try {
        if (messageType === 'PackRegistered') {
          const releaseId = typeof p.release_id === 'number' ? p.release_id : null;
          const digest = typeof p.release_digest === 'string' ? p.release_digest : null;
          if (releaseId === null || digest === null) return;
          await opts.transport.syncRelease(packRef, releaseId, digest);
          log.info({ packRef, releaseId, digest }, 'pack.registered: release is local');
        } else if (messageType === 'PackDeleted') {
          await rm(join(opts.packsBaseDir, packRef), { recursive: true, force: true });
          const removed: string[] = [];
          for (const d of releaseDigestsOf(p)) if (await opts.transport.cache.remove(d)) removed.push(d);
          log.info({ packRef, removedReleases: removed }, 'pack.deleted: local pack files removed');
        }
      } catch (e) {
        log.warn({ packRef, messageType, error: toError(e).message }, 'pack release cache update failed');
      }
    },
  };
}

/** `release_digests` of a PackDeleted payload: valid digests only. */
export function releaseDigestsOf(payload: Record<string, unknown>): string[] {
  const v = payload.release_digests;
  return Array.isArray(v) ? v.filter((d): d is string => typeof d === 'string' && isValidDigest(d)) : [];
}
