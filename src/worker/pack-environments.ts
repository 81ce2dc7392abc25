/**
 * Coordinated runtime-environment set-up with `pack_environment` rows (spec 07 §5.3, upstream
 * `coordinate_environment_setup` / `pack_environment.rs`): upsert the row, claim it with a
 * compare-and-set lease (300 s, renewed every 60 s), build, then mark it ready or failed —
 * so replicas sharing `runtime_envs_dir` install each environment once. Used by
 * `pack.registered` (both modes) and the Worker-mode start-up scan. Base environments only
 * (version environments are built lazily by the execution path). No row locks, no
 * transactions, as upstream.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log';
import { toError } from '../errors';
import type { Queryable } from '../db/rows';
import type { RuntimeRow } from '../db/models/runtime';
import { claimPackEnvironment } from '../db/queries/claim-pack-environment';
import { getPackEnvironment } from '../db/queries/get-pack-environment';
import { markPackEnvironmentFailed } from '../db/queries/mark-pack-environment-failed';
import { markPackEnvironmentOutdated } from '../db/queries/mark-pack-environment-outdated';
import { markPackEnvironmentReady } from '../db/queries/mark-pack-environment-ready';
import { renewPackEnvironmentClaim } from '../db/queries/renew-pack-environment-claim';
import { upsertPackEnvironment } from '../db/queries/upsert-pack-environment';
import type { PackEnvironmentRow } from '../db/models/pack-environment';
import { dependencyDigest, ensureRuntimeEnvironment, interpreterFor, resolveEnvDir } from '../envs';
import type { EnvMap } from '../execution/child-env';
import { parseRuntimeExecutionConfig } from '../execution/runtimes';
import type { RuntimeExecutionConfig } from '../execution/types';
import { sleep } from '../util/sleep';

export const CLAIM_LEASE_SEC = 300;
export const CLAIM_RENEW_MS = 60_000;
const CLAIM_ATTEMPTS = 3;

export type CoordinationOutcome = 'skipped' | 'ready' | 'installed' | 'failed' | 'busy';

export interface PackEnvironmentContext {
  db: Queryable;
  workerId: number;
  runtimeEnvsDir: string;
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  log: Logger;
  /** Test seam: jitter before each claim attempt (default 100–499 ms). */
  jitterMs?: () => number;
}

export interface PackForEnvironments {
  id: number;
  ref: string;
  packDir: string;
  releaseDigest: string | null;
}

/** spec 07 §5.3: skipped without an `environment` section and without a dependency manifest in the pack. */
function hasEnvironmentWork(config: RuntimeExecutionConfig, packDir: string): boolean {
  const manifest = config.dependencies?.manifest_file;
  return (config.environment !== undefined && config.environment !== null) || (typeof manifest === 'string' && existsSync(join(packDir, manifest)));
}

function intact(row: PackEnvironmentRow, checksum: string, config: RuntimeExecutionConfig, packDir: string): boolean {
  if (row.status !== 'ready' || row.manifestChecksum !== checksum || !existsSync(row.envPath)) return false;
  const wantsInterpreter = typeof config.environment?.interpreter_path === 'string';
  return !wantsInterpreter || interpreterFor({ runtimeConfig: config, envDir: row.envPath, packDir }) !== null;
}

/**
 * Base environment of one (pack, runtime). `canClaim` is false when the runtime is outside
 * this worker's filter: the row is still upserted (other workers see the need), nothing built.
 */
export async function coordinateBaseEnvironment(
  ctx: PackEnvironmentContext,
  pack: PackForEnvironments,
  runtime: RuntimeRow,
  canClaim: boolean,
): Promise<CoordinationOutcome> {
  const config = parseRuntimeExecutionConfig(runtime.executionConfig);
  // No pack files here (e.g. a release-only volume without the legacy dir): nothing to build.
  if (!existsSync(pack.packDir) || !hasEnvironmentWork(config, pack.packDir)) return 'skipped';
  const runtimeName = runtime.name.toLowerCase();
  const envDir = await resolveEnvDir({ runtimeEnvsDir: ctx.runtimeEnvsDir, packRef: pack.ref, runtimeName, version: null, packReleaseDigest: pack.releaseDigest, packDir: pack.packDir, runtimeConfig: config, env: ctx.env });
  const checksum = await dependencyDigest(config, pack.packDir);
  const log = ctx.log.child({ packRef: pack.ref, runtime: runtime.ref, envDir });
  const row = await upsertPackEnvironment(ctx.db, {
    packId: pack.id,
    packRef: pack.ref,
    runtimeId: runtime.id,
    runtimeRef: runtime.ref,
    runtimeVersionId: null,
    runtimeVersionText: null,
    envPath: envDir,
    manifestChecksum: checksum,
  });
  if (intact(row, checksum, config, pack.packDir)) return 'ready';
  if (!canClaim) return 'skipped';

  for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
    await sleep(ctx.jitterMs?.() ?? 100 + Math.floor(Math.random() * 400));
    const current = await getPackEnvironment(ctx.db, row.envKey);
    if (current !== null && intact(current, checksum, config, pack.packDir)) return 'ready';
    if (current?.status === 'ready') await markPackEnvironmentOutdated(ctx.db, row.envKey);
    const claimed = await claimPackEnvironment(ctx.db, row.envKey, ctx.workerId, CLAIM_LEASE_SEC);
    if (claimed === null) continue;
    return install(ctx, row.envKey, { envDir, packDir: pack.packDir, packRef: pack.ref, config, checksum }, log);
  }
  log.info('runtime environment is being installed by another worker; skipped');
  return 'busy';
}

async function install(
  ctx: PackEnvironmentContext,
  envKey: string,
  t: { envDir: string; packDir: string; packRef: string; config: RuntimeExecutionConfig; checksum: string },
  log: Logger,
): Promise<CoordinationOutcome> {
  const renew = setInterval(() => {
    void renewPackEnvironmentClaim(ctx.db, envKey, ctx.workerId, CLAIM_LEASE_SEC)
      .then((still) => {
        if (!still) clearInterval(renew);
      })
      .catch((e: unknown) => log.warn({ err: toError(e).message }, 'renewing the environment claim failed'));
  }, CLAIM_RENEW_MS);
  renew.unref();
  try {
    const r = await ensureRuntimeEnvironment({ envDir: t.envDir, packDir: t.packDir, packRef: t.packRef, runtimeConfig: t.config, baseEnv: ctx.baseEnv, log });
    if (r.ok) {
      await markPackEnvironmentReady(ctx.db, envKey, ctx.workerId, t.checksum);
      log.info({ status: r.status }, 'runtime environment ready');
      return 'installed';
    }
    await markPackEnvironmentFailed(ctx.db, envKey, ctx.workerId, r.error);
    log.warn({ error: r.error }, 'runtime environment set-up failed');
    return 'failed';
  } finally {
    clearInterval(renew);
  }
}
