/**
 * The `worker.<id>.packs` consumer (spec 07 §3, upstream `start_pack_consumer` @f3e5d1c).
 * pack.registered → tell the pack cache, re-verify the listed runtimes' versions, refresh the
 * advertised `runtime_versions`, then build the pack's environments with `pack_environment`
 * coordination; failures inside are logged and the delivery acked. pack.deleted → under the
 * pack-mutation advisory lock, the stale-delete guard, then the pack cache and the runtime-env
 * purge (runtime-env-purge.ts). Decode or pack-ref failures are dead-lettered.
 */
import { join } from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log';
import type { JsonObject, Queryable } from '../db/rows';
import { acquirePackMutationLock } from '../db/queries/acquire-pack-mutation-lock';
import { getPackByRef } from '../db/queries/get-pack-by-ref';
import { getPackRelease } from '../db/queries/get-pack-release';
import { listPackActionRuntimes } from '../db/queries/list-pack-action-runtimes';
import { updateWorkerCapabilities } from '../db/queries/update-worker-capabilities';
import { normalizeRuntimeName, runtimeAliasesMatchFilter } from '../detect';
import type { EnvMap } from '../execution/child-env';
import type { ConsumerDecision, Delivery } from '../mq/consumer';
import { parseEnvelope, parsePackDeleted, parsePackRegistered, type PackDeletedPayload, type PackRegisteredPayload } from '../mq/messages';
import { toError } from '../errors';
import type { Capabilities } from './capabilities';
import { replaceRuntimeVersions } from './advertised-versions';
import { RELEASE_DIGEST_RE, type PackReleaseCache } from './pack-cache';
import { coordinateBaseEnvironment, type PackEnvironmentContext } from './pack-environments';
import { checkRecordedPath, planPackRuntimePurge, PurgeRejected, removePurgeTargets } from './runtime-env-purge';
import { buildVerifiedRuntimeVersions, verifyAllRuntimeVersions } from './version-verify';

export interface PackEventsOptions {
  db: Queryable;
  /** Runs `fn` in one transaction (the pack-mutation lock is transaction-scoped). */
  withTransaction: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  workerId: number;
  /** `ATTUNE_WORKER_RUNTIMES` tokens; null = no filter. */
  runtimeFilter: readonly string[] | null;
  /** The capabilities registered at start-up; `runtime_versions` is rewritten here. */
  capabilities: Capabilities;
  packCache: PackReleaseCache;
  log: Logger;
}

export class PackEvents {
  private readonly log: Logger;

  constructor(private readonly opts: PackEventsOptions) {
    this.log = opts.log.child({ component: 'packs' });
  }

  async handle(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    if (!env.ok) return this.reject(env.error);
    const type = env.envelope.message_type;
    if (type === 'PackRegistered') {
      const p = parsePackRegistered(env.envelope.payload);
      if (!p.ok) return this.reject(p.error);
      await this.onRegistered(p.value).catch((e: unknown) =>
        this.log.error({ packRef: p.value.pack_ref, err: toError(e).message }, 'handling pack.registered failed'),
      );
      return 'ack';
    }
    if (type === 'PackDeleted') {
      const p = parsePackDeleted(env.envelope.payload);
      if (!p.ok) return this.reject(p.error);
      return this.onDeleted(p.value);
    }
    this.log.info({ messageType: type }, 'ignoring message type on the packs queue');
    return 'ack';
  }

  private reject(error: string): ConsumerDecision {
    this.log.error({ error }, 'malformed pack message rejected (dead-lettered); the agent keeps serving');
    return 'reject';
  }

  /** spec 07 §3.2. */
  private async onRegistered(p: PackRegisteredPayload): Promise<void> {
    const { db, config } = this.opts;
    const log = this.log.child({ packRef: p.pack_ref, packId: p.pack_id });
    await this.opts.packCache
      .releaseRegistered({ packId: p.pack_id, packRef: p.pack_ref, releaseId: p.release_id, releaseDigest: p.release_digest })
      .catch((e: unknown) => log.warn({ err: toError(e).message }, 'pack cache could not take the registered release'));

    // 2. Versions of the listed runtimes this worker may run, then the advertised map.
    const filter = this.opts.runtimeFilter;
    const wanted = p.runtime_names.map((n) => normalizeRuntimeName(n)).filter((n) => filter === null || runtimeAliasesMatchFilter([n], filter));
    if (wanted.length > 0) {
      const results = await verifyAllRuntimeVersions(db, { childEnv: this.opts.baseEnv, filter: wanted, log });
      if (results.length > 0) {
        // Merged, not replaced: runtimes outside this pack keep their verified versions
        // (upstream re-verifies them all; same outcome unless the image changed underneath).
        const previous = (this.opts.capabilities.runtime_versions ?? {}) as Record<string, string[]>;
        replaceRuntimeVersions(this.opts.capabilities, { ...previous, ...buildVerifiedRuntimeVersions(results) });
        await updateWorkerCapabilities(db, this.opts.workerId, this.opts.capabilities as JsonObject);
      }
    }

    // 3. Environments of the runtimes the pack's actions use, coordinated through pack_environment.
    const pack = await getPackByRef(db, p.pack_ref);
    if (pack === null || pack.id !== p.pack_id) {
      log.info('pack row not found (or replaced) since the event was sent; no environments built');
      return;
    }
    const digest = p.release_digest !== null && RELEASE_DIGEST_RE.test(p.release_digest) ? p.release_digest : null;
    if (digest !== null && p.release_id !== null) {
      // Upstream re-reads the release by id; it must match the event exactly.
      const rel = await getPackRelease(db, p.release_id);
      if (rel === null || rel.pack !== p.pack_id || rel.packRef !== p.pack_ref || rel.digest !== digest) {
        log.warn({ releaseId: p.release_id }, 'pack.registered release does not match its pack_release row; no environments built');
        return;
      }
    }
    const packDir = digest !== null ? await this.opts.packCache.releaseDir(p.pack_ref, p.release_id, digest) : join(config.packsBaseDir, p.pack_ref);
    await this.buildEnvironments({ id: pack.id, ref: pack.ref, packDir, releaseDigest: digest }, log);
  }

  /** spec 07 §5.3 for one pack; also used by the Worker-mode start-up scan. */
  async buildEnvironments(pack: { id: number; ref: string; packDir: string; releaseDigest: string | null }, log: Logger = this.log): Promise<number> {
    const ctx: PackEnvironmentContext = {
      db: this.opts.db,
      workerId: this.opts.workerId,
      runtimeEnvsDir: this.opts.config.runtimeEnvsDir,
      env: this.opts.env,
      baseEnv: this.opts.baseEnv,
      log,
    };
    const filter = this.opts.runtimeFilter;
    let ensured = 0;
    for (const rt of await listPackActionRuntimes(this.opts.db, pack.id)) {
      const canClaim = filter === null || runtimeAliasesMatchFilter([rt.name, ...rt.aliases], filter);
      try {
        const outcome = await coordinateBaseEnvironment(ctx, pack, rt, canClaim);
        if (outcome === 'ready' || outcome === 'installed') ensured++;
      } catch (e) {
        log.warn({ runtime: rt.ref, err: toError(e).message }, 'runtime environment coordination failed');
      }
    }
    return ensured;
  }

  /**
   * spec 07 §3.1. Differences from upstream, both bounded-by-design: every path and digest is
   * validated before anything is removed (upstream removes pack files first, then rejects an
   * absolute path), and a cleanup that can never succeed (bad path, symlink) is dead-lettered
   * instead of requeued forever. DB errors still throw → requeue (retriable, as upstream).
   */
  private async onDeleted(p: PackDeletedPayload): Promise<ConsumerDecision> {
    const log = this.log.child({ packRef: p.pack_ref, deletedPackId: p.pack_id });
    for (const path of p.runtime_environment_paths) {
      const problem = checkRecordedPath(path);
      if (problem !== null) return this.reject(`${problem} (got ${JSON.stringify(path.slice(0, 200))})`);
    }
    const badDigest = p.release_digests.find((d) => !RELEASE_DIGEST_RE.test(d));
    if (badDigest !== undefined) return this.reject(`PackDeleted release_digests must be 64 lowercase hex characters (got ${JSON.stringify(badDigest.slice(0, 80))})`);

    return this.opts.withTransaction(async (tx) => {
      await acquirePackMutationLock(tx, p.pack_ref);
      const current = await getPackByRef(tx, p.pack_ref);
      if (current !== null) {
        log.warn({ deletedPackId: p.pack_id, currentPackId: current.id }, 'Ignoring stale pack.deleted event after pack ref was reinstalled');
        return 'ack';
      }
      try {
        // Validate every runtime-env candidate before the pack cache or the purge removes anything.
        const targets = await planPackRuntimePurge(this.opts.config.runtimeEnvsDir, p.pack_ref, p.runtime_environment_paths);
        await this.opts.packCache.packDeleted(p.pack_ref, p.release_digests);
        const removed = await removePurgeTargets(targets);
        log.info({ removed: removed.length, dirs: removed }, 'pack deleted: runtime environments removed');
        return 'ack';
      } catch (e) {
        if (e instanceof PurgeRejected) return this.reject(e.message);
        log.error({ err: toError(e).message }, 'pack.deleted cleanup failed; dead-lettered');
        return 'reject';
      }
    });
  }
}
