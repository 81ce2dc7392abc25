/**
 * The `worker.<id>.packs` and `worker.<id>.packtests` consumers (spec 02 §4.3–4.4).
 * pack.registered → re-verify runtime versions for the listed runtimes, refresh the advertised
 * `runtime_versions`, and build the pack's runtime environments ahead of the first execution;
 * pack.deleted → remove `{runtime_envs_dir}/{pack_ref}`. Failures inside are logged; the message
 * is still acked (as upstream). Pack tests are not implemented by this agent (see handlePackTest).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log';
import type { JsonObject, Queryable } from '../db/rows';
import { listRuntimes } from '../db/queries/list-runtimes';
import { updateWorkerCapabilities } from '../db/queries/update-worker-capabilities';
import { normalizeRuntimeName } from '../detect';
import { ensureRuntimeEnvironment, resolveEnvDir } from '../envs';
import type { EnvMap } from '../execution/child-env';
import { parseRuntimeExecutionConfig } from '../execution/runtimes';
import type { ConsumerDecision, Delivery } from '../mq/consumer';
import { isValidPackRef, parseEnvelope, parsePackDeleted, parsePackRegistered, parsePackTestRequested } from '../mq/messages';
import { toError } from '../errors';
import type { ReleaseEventsHook } from '../packs';
import type { Capabilities } from './capabilities';
import { buildVerifiedRuntimeVersions, verifyAllRuntimeVersions } from './version-verify';

export interface PackEventsOptions {
  db: Queryable;
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  workerId: number;
  /** The capabilities registered at start-up; `runtime_versions` is rewritten here. */
  capabilities: Capabilities;
  /** issue 15: API pack transport cache updates (src/packs); null/absent = volume transport. */
  packReleases?: ReleaseEventsHook | null;
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
    await this.opts.packReleases?.onPackEvent(type, env.envelope.payload); // issue 15: API pack cache (never throws)
    if (type === 'PackRegistered') {
      const p = parsePackRegistered(env.envelope.payload);
      if (!p.ok) return this.reject(p.error);
      await this.onRegistered(p.value.pack_ref, p.value.runtime_names ?? [], p.value.release_digest ?? null).catch((e: unknown) =>
        this.log.error({ packRef: p.value.pack_ref, err: toError(e) }, 'handling pack.registered failed'),
      );
      return 'ack';
    }
    if (type === 'PackDeleted') {
      const p = parsePackDeleted(env.envelope.payload);
      if (!p.ok) return this.reject(p.error);
      await this.onDeleted(p.value.pack_ref);
      return 'ack';
    }
    this.log.info({ messageType: type }, 'ignoring message type on the packs queue');
    return 'ack';
  }

  /**
   * Pack tests (spec 02 §4.4) need the executor's pack_install tables and a test runner this
   * agent does not have; the request is dead-lettered with a clear line instead of sitting in
   * the queue. The executor's install timeout then fails the install.
   */
  async handlePackTest(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    const p = env.ok ? parsePackTestRequested(env.envelope.payload) : null;
    const packRef = p?.ok ? p.value.pack_ref : undefined;
    this.log.error({ packRef }, 'pack test request rejected: attune-agent does not run pack tests; route pack tests to an upstream attune-worker');
    return 'reject';
  }

  private reject(error: string): ConsumerDecision {
    this.log.error({ error }, 'malformed pack message rejected (dead-lettered); the agent keeps serving');
    return 'reject';
  }

  private async onRegistered(packRef: string, runtimeNames: readonly string[], releaseDigest: string | null): Promise<void> {
    const { config, db } = this.opts;
    const wanted = new Set(runtimeNames.map((n) => normalizeRuntimeName(n)));
    // 1. Re-verify versions of the listed runtimes and advertise what is available here.
    const results = await verifyAllRuntimeVersions(db, { childEnv: this.opts.baseEnv, filter: [...wanted], log: this.log });
    if (results.length > 0) {
      this.opts.capabilities.runtime_versions = buildVerifiedRuntimeVersions(results);
      await updateWorkerCapabilities(db, this.opts.workerId, this.opts.capabilities as JsonObject);
    }
    // 2. Build the environments now rather than on the first execution (spec 03 §7.3).
    const packDir =
      releaseDigest && /^[0-9a-f]{64}$/.test(releaseDigest)
        ? join(config.packsBaseDir, '.releases', 'sha256', releaseDigest, 'pack')
        : join(config.packsBaseDir, packRef);
    const runtimes = await listRuntimes(db);
    for (const rt of runtimes) {
      const names = [rt.name, ...rt.aliases].map((n) => normalizeRuntimeName(n));
      if (!names.some((n) => wanted.has(n))) continue;
      const runtimeConfig = parseRuntimeExecutionConfig(rt.executionConfig);
      if (!runtimeConfig.environment) continue;
      const envDir = await resolveEnvDir({
        runtimeEnvsDir: config.runtimeEnvsDir,
        packRef,
        runtimeName: rt.name.toLowerCase(),
        version: null,
        packReleaseDigest: releaseDigest,
        packDir,
        runtimeConfig,
        env: this.opts.env,
      });
      const r = await ensureRuntimeEnvironment({ envDir, packDir, runtimeConfig, baseEnv: this.opts.baseEnv, log: this.log });
      if (r.ok) this.log.info({ packRef, runtime: rt.name, envDir, status: r.status }, 'runtime environment ready');
      else this.log.warn({ packRef, runtime: rt.name, envDir, error: r.error }, 'runtime environment set-up failed');
    }
  }

  private async onDeleted(packRef: string): Promise<void> {
    if (!isValidPackRef(packRef)) return;
    const dir = join(this.opts.config.runtimeEnvsDir, packRef);
    try {
      await rm(dir, { recursive: true, force: true });
      this.log.info({ packRef, dir }, 'pack deleted: runtime environments removed');
    } catch (e) {
      this.log.warn({ packRef, dir, err: toError(e) }, 'could not remove the runtime environments of a deleted pack');
    }
  }
}
