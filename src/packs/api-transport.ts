/**
 * The API pack transport (`packs.transport: api`, spec 06 §6): `syncRelease` makes a pinned
 * release local — cache hit at once, else download, verify the SHA-256 against the pinned
 * digest BEFORE unpacking, unpack, publish. One download per digest inside the process
 * (single-flight: concurrent callers await the same attempt and share its outcome); across
 * processes the atomic publish decides (release-cache.ts).
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../log';
import { toError } from '../errors';
import { isValidPackRef } from '../mq/messages';
import { PackArchiveError } from './archive';
import { archiveUrl, downloadReleaseArchive, type PackArchiveApi } from './download';
import { PackReleaseError } from './errors';
import { downloadsDir, isValidDigest, releasePackDir } from './release-layout';
import type { ReleaseCache } from './release-cache';

export interface ApiPackTransportOptions {
  api: PackArchiveApi;
  cache: ReleaseCache;
  packsBaseDir: string;
  log: Logger;
  /** Aborts downloads when the agent stops. */
  signal?: AbortSignal;
  downloadTimeoutMs?: number;
}

export interface ActiveRelease {
  packRef: string;
  releaseId: number;
  digest: string;
}

export class ApiPackTransport {
  private readonly inflight = new Map<string, Promise<void>>();
  /** Number of archive downloads started (tests and the bench read it). */
  downloads = 0;

  constructor(private readonly opts: ApiPackTransportOptions) {}

  get cache(): ReleaseCache {
    return this.opts.cache;
  }

  /** upstream `sync_release`: the release's pack dir, or PackReleaseError. */
  async syncRelease(packRef: string, releaseId: number | null, digest: string): Promise<string> {
    if (!isValidPackRef(packRef)) throw new PackReleaseError(`Validation error: invalid pack ref '${packRef}'`, 'invalid');
    if (releaseId === null || !Number.isInteger(releaseId) || releaseId <= 0) {
      throw new PackReleaseError('Validation error: Pack release ID must be positive', 'invalid');
    }
    if (!isValidDigest(digest)) throw new PackReleaseError(`Validation error: invalid pack release digest '${digest}'`, 'invalid');
    const packDir = releasePackDir(this.opts.packsBaseDir, digest);
    if (this.opts.cache.isReady(digest)) return packDir;
    let attempt = this.inflight.get(digest);
    if (!attempt) {
      attempt = this.fetchAndPublish(packRef, releaseId, digest).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, attempt);
    }
    await attempt;
    return packDir;
  }

  private async fetchAndPublish(packRef: string, releaseId: number, digest: string): Promise<void> {
    const log = this.opts.log.child({ packRef, releaseId, digest });
    const started = Date.now();
    this.downloads++;
    log.info({ url: archiveUrl(this.opts.api.baseUrl, releaseId) }, 'downloading pack release from the Attune API');
    const archive = await downloadReleaseArchive(this.opts.api, {
      packRef,
      releaseId,
      downloadsDir: downloadsDir(this.opts.packsBaseDir),
      signal: this.opts.signal,
      timeoutMs: this.opts.downloadTimeoutMs,
    });
    try {
      // spec 06 §6.2: checked before anything is unpacked; a mismatch is never cached.
      if (archive.sha256 !== digest) {
        throw new PackReleaseError(`Pack release ${releaseId} digest mismatch: expected ${digest}, got ${archive.sha256}`, 'invalid');
      }
      try {
        await this.opts.cache.publish(digest, packRef, archive.path);
      } catch (e) {
        const kind = e instanceof PackArchiveError ? 'invalid' : 'unavailable';
        throw new PackReleaseError(`Failed to extract pack '${packRef}': ${toError(e).message}`, kind, { cause: e });
      }
    } finally {
      await rm(archive.path, { force: true });
    }
    log.info({ bytes: archive.size, durationMs: Date.now() - started }, 'pack release downloaded, verified and unpacked');
    await this.opts.cache.enforceBound().catch((e: unknown) => log.warn({ err: toError(e) }, 'pack release cache eviction failed'));
  }

  /** spec 06 §6.1 start-up sync: every active release not local yet; failures are warnings. */
  async syncActiveReleases(releases: readonly ActiveRelease[]): Promise<{ synced: number; alreadyLocal: number; errors: number }> {
    const summary = { synced: 0, alreadyLocal: 0, errors: 0 };
    for (const r of releases) {
      if (this.opts.signal?.aborted) break;
      if (this.opts.cache.isReady(r.digest)) {
        summary.alreadyLocal++;
        continue;
      }
      try {
        await this.syncRelease(r.packRef, r.releaseId, r.digest);
        summary.synced++;
      } catch (e) {
        summary.errors++;
        this.opts.log.warn({ packRef: r.packRef, releaseId: r.releaseId, error: toError(e).message }, 'start-up sync of an active pack release failed; it is fetched again on first use');
      }
    }
    return summary;
  }
}
