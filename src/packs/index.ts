/** Pack releases on disk and the API pack transport (spec 06 §6). */
export { extractPackArchive, PackArchiveError, PACK_ARCHIVE_LIMITS, type PackArchiveLimits } from './archive';
export { ApiPackTransport, type ActiveRelease } from './api-transport';
export { PackReleaseGate, type GateDecision, type PackDirAnswer, type PackReleaseDirs, type PinnedRow } from './dispatch-gate';
export { downloadReleaseArchive, archiveUrl, MAX_ARCHIVE_BYTES, type PackArchiveApi } from './download';
export { PackReleaseError } from './errors';
export { createApiReleaseCache } from './release-events';
export type { PackReleaseCache, RegisteredRelease } from './release-cache-port';
export { ReleaseCache, DEFAULT_PACK_CACHE_MAX_BYTES } from './release-cache';
export { isReleaseReady, releasePackDir, RELEASE_READY_MARKER } from './release-layout';
export { packsTransportProblems, resolvePacksTransport, PACKS_SENTINEL } from './transport-config';
export { startApiPackTransport, type ApiPackTransportHandle } from './start';
