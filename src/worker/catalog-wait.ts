/**
 * Catalog order (spec 07 §7.2). On a fresh Attune database `platform_catalog_state.revision`
 * is 0 until the API reconciles the platform catalog (core runtimes). Upstream's agent, run
 * that early, inserts `auto.<name>` runtimes that then sit beside the `core.*` rows arriving
 * later; upstream's deployment avoids that with the chart's `wait-for-api-platform` init
 * container. The agent waits itself instead, before dynamic runtime registration, so it never
 * creates `auto.*` rows for runtimes the catalog provides — whatever starts it. A pre-catalog
 * database (no table) is not waited for (its runtimes come from packs), nor one whose `core.*`
 * runtimes already exist at revision 0 (legacy, pack-owned).
 */
import { DbError, toError } from '../errors';
import type { Queryable } from '../db/rows';
import { getPlatformCatalogState } from '../db/queries/get-platform-catalog-state';
import { relationExists } from '../db/queries/relation-exists';
import { hasCoreRuntimes } from '../db/queries/has-core-runtimes';
import { sleep } from '../util/sleep';

export interface WaitForPlatformCatalogOptions {
  timeoutMs: number;
  intervalMs?: number;
  progressEveryMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

/** Resolves with the revision seen (null: pre-catalog database). Throws DbError on timeout. */
export async function waitForPlatformCatalog(db: Queryable, opts: WaitForPlatformCatalogOptions): Promise<number | null> {
  if (!(await relationExists(db, { schema: null, name: 'platform_catalog_state' }))) return null;
  const started = Date.now();
  const intervalMs = Math.max(10, opts.intervalMs ?? 2000);
  const progressEveryMs = opts.progressEveryMs ?? 10_000;
  let lastProgress = started - progressEveryMs;
  let lastError: Error | null = null;
  for (;;) {
    try {
      const state = await getPlatformCatalogState(db);
      if (state !== null && state.revision >= 1) return state.revision;
      // A legacy database keeps revision 0 with pack-owned core.* runtimes: nothing to wait for.
      if (await hasCoreRuntimes(db)) return state?.revision ?? 0;
      lastError = null;
    } catch (e) {
      lastError = toError(e);
    }
    const elapsedMs = Date.now() - started;
    if (elapsedMs >= opts.timeoutMs || opts.signal?.aborted) {
      throw new DbError(
        `The Attune platform catalog was not reconciled after ${Math.round(elapsedMs / 1000)}s (platform_catalog_state.revision is still 0` +
          `${lastError ? `; last error: ${lastError.message}` : ''}). Start the Attune API (it installs the core runtimes) and restart the agent, ` +
          'or raise agent.schema_wait_timeout',
        { code: 'DB_SCHEMA_MISSING', cause: lastError ?? undefined },
      );
    }
    if (opts.onProgress && Date.now() - lastProgress >= progressEveryMs) {
      lastProgress = Date.now();
      opts.onProgress(
        `waiting for the Attune API to reconcile the platform catalog (platform_catalog_state.revision 0; ${Math.round(elapsedMs / 1000)}s of ${Math.round(opts.timeoutMs / 1000)}s)`,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(1, opts.timeoutMs - elapsedMs)), opts.signal);
  }
}
