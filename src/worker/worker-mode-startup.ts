/**
 * Start-up work of Worker (fallback) mode, i.e. when bootstrap detection produced no runtime
 * list (spec 07 §5.1–5.2, upstream `start()` @f3e5d1c): eager verification of every active
 * `runtime_version` (the `available` flag is global: the last worker to verify wins), the
 * advertised `runtime_versions`, then environment pre-building for every pack with
 * `pack_environment` coordination. Agent mode defers all of this to first use (§5.4).
 * Failures are logged; start-up continues (as upstream).
 */
import { join } from 'node:path';
import type { Logger } from '../log';
import { toError } from '../errors';
import type { JsonObject, Queryable } from '../db/rows';
import { listPacks } from '../db/queries/list-packs';
import { updateWorkerCapabilities } from '../db/queries/update-worker-capabilities';
import type { EnvMap } from '../execution/child-env';
import type { Capabilities } from './capabilities';
import { replaceRuntimeVersions } from './advertised-versions';
import type { PackReleaseCache } from './pack-cache';
import type { PackEvents } from './pack-events';
import { buildVerifiedRuntimeVersions, verifyAllRuntimeVersions } from './version-verify';

export interface WorkerModeStartupOptions {
  db: Queryable;
  workerId: number;
  baseEnv: EnvMap;
  runtimeFilter: readonly string[] | null;
  capabilities: Capabilities;
  packsBaseDir: string;
  packCache: PackReleaseCache;
  packEvents: PackEvents;
  log: Logger;
}

export async function runWorkerModeStartup(opts: WorkerModeStartupOptions): Promise<void> {
  const { db, log } = opts;
  try {
    const results = await verifyAllRuntimeVersions(db, { childEnv: opts.baseEnv, filter: opts.runtimeFilter, log });
    const available = results.filter((r) => r.available).length;
    log.info({ checked: results.length, available, unavailable: results.length - available }, `Runtime version verification complete: ${results.length} checked, ${available} available, ${results.length - available} unavailable`);
    replaceRuntimeVersions(opts.capabilities, buildVerifiedRuntimeVersions(results));
    await updateWorkerCapabilities(db, opts.workerId, opts.capabilities as JsonObject);
  } catch (e) {
    log.warn({ err: toError(e).message }, 'runtime version verification at start-up failed');
  }

  let scanned = 0;
  let ensured = 0;
  try {
    for (const pack of await listPacks(db)) {
      scanned++;
      let packDir = join(opts.packsBaseDir, pack.ref);
      let releaseDigest: string | null = null;
      if (pack.activeReleaseDigest !== null) {
        try {
          packDir = await opts.packCache.releaseDir(pack.ref, pack.activeRelease, pack.activeReleaseDigest);
          releaseDigest = pack.activeReleaseDigest;
        } catch {
          // spec 07 §5.2: without the release's files, the legacy {packs_base_dir}/<ref> layout.
        }
      }
      ensured += await opts.packEvents.buildEnvironments({ id: pack.id, ref: pack.ref, packDir, releaseDigest }, log.child({ packRef: pack.ref }));
    }
  } catch (e) {
    log.warn({ err: toError(e).message }, 'environment start-up scan failed');
  }
  log.info({ scanned, ensured }, `Environment startup scan completed: ${scanned} pack(s) scanned, ${ensured} environment(s) ensured`);
}
