/**
 * Builds the API pack transport for agent.ts (spec 06 §6): cache (scanned, crash leftovers
 * removed), downloader, dispatch gate and pack-event hook; then the start-up sync of active
 * releases (spec 06 §6.1), run in the background so a slow or unreachable API never delays
 * consuming — a dispatch for a release being synced joins that download.
 */
import type { Logger } from '../log';
import { AgentError, toError } from '../errors';
import { ApiPackTransport, type ActiveRelease } from './api-transport';
import { PackReleaseGate } from './dispatch-gate';
import type { PackArchiveApi } from './download';
import { createApiReleaseCache } from './release-events';
import type { PackReleaseCache } from './release-cache-port';
import { ReleaseCache } from './release-cache';

export interface StartApiPackTransportOptions {
  packsBaseDir: string;
  maxBytes: number;
  api: PackArchiveApi;
  log: Logger;
  signal: AbortSignal;
  runningExecutionIds: () => readonly number[];
  listActiveReleases: () => Promise<readonly ActiveRelease[]>;
}

export interface ApiPackTransportHandle {
  transport: ApiPackTransport;
  gate: PackReleaseGate;
  /** The pack lifecycle consumers' view of this cache (pack.registered / pack.deleted / release dirs). */
  releaseCache: PackReleaseCache;
  /** Resolves when the start-up sync finished (tests wait on it). */
  startupSync: Promise<void>;
  stop(): void;
}

export async function startApiPackTransport(opts: StartApiPackTransportOptions): Promise<ApiPackTransportHandle> {
  const log = opts.log.child({ component: 'packs' });
  const cache = new ReleaseCache({ packsBaseDir: opts.packsBaseDir, maxBytes: opts.maxBytes, log });
  const scan = await cache.init().catch((e: unknown) => {
    throw new AgentError(
      'INTERNAL',
      `Cannot use packs_base_dir ${opts.packsBaseDir} for the pack release cache: ${toError(e).message}. Mount a writable volume there (the chart uses an emptyDir) or set packs_base_dir (env ATTUNE__PACKS_BASE_DIR)`,
      { cause: e },
    );
  });
  log.info({ apiUrl: opts.api.baseUrl, packsBaseDir: opts.packsBaseDir, cacheMaxBytes: opts.maxBytes, ...scan }, 'packs.transport api: pack releases come from the Attune API');
  const transport = new ApiPackTransport({ api: opts.api, cache, packsBaseDir: opts.packsBaseDir, log, signal: opts.signal });
  const gate = new PackReleaseGate({ transport, packsBaseDir: opts.packsBaseDir, log, runningExecutionIds: opts.runningExecutionIds, signal: opts.signal });
  const releaseCache = createApiReleaseCache({ transport, packsBaseDir: opts.packsBaseDir, log });
  const startupSync = (async () => {
    try {
      const summary = await transport.syncActiveReleases(await opts.listActiveReleases());
      if (summary.errors > 0) {
        log.warn({ ...summary, apiUrl: opts.api.baseUrl }, 'start-up pack sync incomplete: the Attune API did not deliver every active release (check ATTUNE_API_URL and that the API is up); missing releases are fetched on first use');
      } else {
        log.info(summary, 'start-up pack sync finished');
      }
    } catch (e) {
      log.warn({ err: toError(e) }, 'start-up pack sync failed');
    }
  })();
  return { transport, gate, releaseCache, startupSync, stop: () => gate.stop() };
}
