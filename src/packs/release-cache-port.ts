/**
 * What the pack lifecycle consumers (worker/pack-events.ts, pack tests, Worker-mode start-up) need
 * from the local pack store. Two implementations: the volume transport's `createLocalPackCache`
 * (worker/pack-cache.ts) and the API transport's `createApiReleaseCache` (release-events.ts).
 */
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

