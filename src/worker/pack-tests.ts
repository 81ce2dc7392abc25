/**
 * The `worker.<id>.packtests` consumer (spec 07 §1.2, upstream `handle_pack_test` @f3e5d1c):
 * validate the delivery against its claimed `pack_install` row, run the pack's tests and
 * finish the install. Nothing is published on MQ — results live only in PostgreSQL. Prefetch
 * is 1, so the delivery stays unacked for the whole run. An error escaping the steps marks
 * the install failed with its text and dead-letters the delivery.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { yaml } from '../util/yaml';
import type { Config } from '../config/types';
import type { Logger } from '../log';
import { toError } from '../errors';
import type { Queryable } from '../db/rows';
import type { PackInstallRow } from '../db/models/pack-install';
import { getPackInstall } from '../db/queries/get-pack-install';
import { finishPackInstall, type FinishPackInstallInput } from '../db/queries/finish-pack-install';
import { getPackByRef } from '../db/queries/get-pack-by-ref';
import { getRuntimeByRef } from '../db/queries/get-runtime-by-ref';
import { insertPackTestExecution } from '../db/queries/insert-pack-test-execution';
import { ensureRuntimeEnvironment, interpreterFor } from '../envs';
import type { EnvMap } from '../execution/child-env';
import { coordinateBaseEnvironment } from './pack-environments';
import { parseRuntimeExecutionConfig } from '../execution/runtimes';
import type { ConsumerDecision, Delivery } from '../mq/consumer';
import { parseEnvelope, parsePackTestRequested, type PackTestRequestedPayload } from '../mq/messages';
import { checkPackTestPolicy, isPackTestAccepted, parsePackTestConfig } from './pack-test-config';
import { releaseCachePath, type PackReleaseCache } from './pack-cache';
import { runPackTests } from './pack-test-runner';

export interface PackTestsOptions {
  db: Queryable;
  config: Config;
  /** Agent process env (ATTUNE_WORKER_IMAGE_FORMAT_VERSION) and the child baseline, for Python test environments. */
  env: Readonly<Record<string, string | undefined>>;
  baseEnv: EnvMap;
  workerId: number;
  packCache: PackReleaseCache;
  log: Logger;
}

/** spec 07 §1.6: `PACK_INSTALL_ACTIVE_TTL_SECS` (7 h). */
export const PACK_TEST_ATTEMPT_TTL_MS = 7 * 3600_000;

/** An outcome that ends the handler early: ack, optionally after marking the install failed. */
class Done {
  constructor(readonly failMessage: string | null) {}
}

/** upstream `hash_integration_token`: base64url (no padding) of SHA-256 of the token bytes. */
export function hashCandidateToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

export class PackTests {
  private readonly log: Logger;

  constructor(private readonly opts: PackTestsOptions) {
    this.log = opts.log.child({ component: 'pack-tests' });
  }

  /**
   * spec 07 §1.6 (upstream `cleanup_stale_pack_test_attempts`): at start, remove attempt dirs
   * named by an integer, real directories (not symlinks), older than 7 h. Missing roots are
   * ignored (a read-only packs mount is fine); failures are warned.
   */
  async cleanupStaleAttempts(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const base of [this.opts.config.packsBaseDir, this.opts.config.runtimeEnvsDir]) {
      const root = join(base, '.pack-test-attempts');
      const names = await readdir(root).catch(() => [] as string[]);
      for (const name of names) {
        if (!/^\d+$/.test(name)) continue;
        const dir = join(root, name);
        try {
          const st = await lstat(dir);
          if (!st.isDirectory() || now - st.mtimeMs <= PACK_TEST_ATTEMPT_TTL_MS) continue;
          await rm(dir, { recursive: true, force: true });
          removed++;
        } catch (e) {
          this.log.warn({ dir, err: toError(e).message }, 'could not remove a stale pack test attempt');
        }
      }
    }
    return removed;
  }

  async handle(d: Delivery): Promise<ConsumerDecision> {
    const env = parseEnvelope(d.body);
    const p = env.ok ? parsePackTestRequested(env.envelope.payload) : env;
    if (!p.ok) {
      this.log.error({ error: p.error }, 'malformed pack test request rejected (dead-lettered); the agent keeps serving');
      return 'reject';
    }
    const req = p.value;
    const log = this.log.child({ packInstallId: req.pack_install_id, packRef: req.pack_ref });
    let cleanup: (() => Promise<void>) | null = null;
    try {
      const r = await this.run(req, log, (fn) => (cleanup = fn));
      if (r instanceof Done && r.failMessage !== null) await this.markFailed(req.pack_install_id, r.failMessage, log);
      return 'ack';
    } catch (e) {
      const message = toError(e).message;
      log.error({ err: message }, 'pack test failed with an error; install marked failed, delivery dead-lettered');
      await this.markFailed(req.pack_install_id, message, log);
      return 'reject';
    } finally {
      if (cleanup !== null) await (cleanup as () => Promise<void>)();
    }
  }

  private async markFailed(id: number, message: string, log: Logger): Promise<void> {
    await this.finish({ id, status: 'failed', testExecutionId: null, testResult: null, errorMessage: message }, log);
  }

  private async finish(input: FinishPackInstallInput, log: Logger): Promise<void> {
    try {
      const written = await finishPackInstall(this.opts.db, input);
      log.info({ status: input.status, written, error: input.errorMessage }, 'pack install finished');
    } catch (e) {
      log.error({ err: toError(e).message, status: input.status }, 'could not record the pack install outcome');
    }
  }

  private async run(req: PackTestRequestedPayload, log: Logger, setCleanup: (fn: () => Promise<void>) => void): Promise<Done | undefined> {
    const { db, config, workerId } = this.opts;
    const install = await getPackInstall(db, req.pack_install_id);
    if (install === null) {
      log.warn('Ignoring pack test for a missing install');
      return new Done(null);
    }
    if (install.status !== 'running' || install.assignedWorkerId !== workerId) {
      log.info({ status: install.status, assignedWorkerId: install.assignedWorkerId, workerId }, 'Ignoring stale or misrouted pack test delivery');
      if (install.status !== 'running' && config.packsTransport === 'api' && req.candidate_path !== null) {
        await this.removeAttempt(req.pack_install_id, false);
      }
      return new Done(null);
    }
    const mismatch = deliveryMismatch(install, req);
    if (mismatch !== null) return new Done(mismatch);
    if (install.candidateAccessTokenHash !== null && req.candidate_access_token !== undefined) {
      if (hashCandidateToken(req.candidate_access_token) !== install.candidateAccessTokenHash) {
        // spec 07 §1.2 step 6: the install is left running for the lifetime reaper.
        log.warn('Ignoring pack test delivery with an invalid candidate token');
        return new Done(null);
      }
    }
    const isCandidate = req.candidate_path !== null;
    let packDir: string;
    // `auto` reads the packs volume in this agent (agent.ts), so only `api` is not volume.
    const isVolume = config.packsTransport !== 'api';
    if (isCandidate) {
      const volumeDir = isVolume ? await this.validateVolumeCandidate(req) : null;
      if (volumeDir instanceof Error) return new Done(volumeDir.message);
      // Upstream's attempt clean-up guard exists from here on (not for a rejected candidate path).
      setCleanup(() => this.removeAttempt(req.pack_install_id, true, volumeDir));
      if (volumeDir === null) return new Done('Failed to sync candidate pack files before testing: the API pack transport is not available on this worker');
      packDir = volumeDir;
    } else {
      const pack = await getPackByRef(db, req.pack_ref);
      if (pack?.activeRelease == null || pack.activeReleaseDigest === null) return new Done('Pack has no active release');
      if (isVolume) {
        // Volume: the shared volume is authoritative; a missing pack.yaml is reported below.
        packDir = releaseCachePath(config.packsBaseDir, pack.activeReleaseDigest);
      } else {
        try {
          packDir = await this.opts.packCache.releaseDir(req.pack_ref, pack.activeRelease, pack.activeReleaseDigest);
        } catch (e) {
          return new Done(`Failed to sync pack files before testing: ${toError(e).message}`);
        }
      }
    }
    return this.testPack(req, install, packDir, log);
  }

  private async testPack(req: PackTestRequestedPayload, install: PackInstallRow, packDir: string, log: Logger): Promise<Done | undefined> {
    const manifestPath = join(packDir, 'pack.yaml');
    if (!(await stat(manifestPath).catch(() => null))?.isFile()) return new Done(`pack.yaml not found for pack '${req.pack_ref}' on worker`);
    const text = await readFile(manifestPath, 'utf8').catch((e: unknown) => {
      throw new Error(`Failed to read pack.yaml for '${req.pack_ref}': ${toError(e).message}`);
    });
    let manifest: unknown;
    try {
      manifest = yaml().parse(text);
    } catch (e) {
      throw new Error(`Failed to parse pack.yaml for '${req.pack_ref}': ${toError(e).message}`);
    }
    const testing = typeof manifest === 'object' && manifest !== null ? (manifest as Record<string, unknown>).testing : undefined;
    const acceptedStatus = req.trigger_reason === 'manual' ? 'succeeded' : 'activating';
    if (testing === undefined || testing === null) {
      await this.finish({ id: install.id, status: acceptedStatus, testExecutionId: null, testResult: null, errorMessage: null }, log);
      return undefined;
    }
    let cfg: ReturnType<typeof parsePackTestConfig>;
    try {
      cfg = parsePackTestConfig(testing);
    } catch (e) {
      throw new Error(`Failed to parse test configuration for '${req.pack_ref}': ${toError(e).message}`);
    }
    const policy = checkPackTestPolicy(cfg);
    if (policy !== null) return new Done(policy);
    if (!cfg.enabled) {
      await this.finish({ id: install.id, status: acceptedStatus, testExecutionId: null, testResult: null, errorMessage: null }, log);
      return undefined;
    }
    const python = cfg.runners.some((r) => r.type === 'unittest' || r.type === 'pytest') ? await this.preparePython(req, req.candidate_path !== null ? packDir : null, log) : null;
    log.info({ runners: cfg.runners.map((r) => r.name), packDir }, 'running pack tests');
    const result = await runPackTests({ packRef: req.pack_ref, packVersion: req.pack_version, packDir, config: cfg, python, log });
    const testExecutionId = await this.recordTestRow(req, install, result);
    const accepted = isPackTestAccepted(result, cfg);
    log.info(
      { status: result.status, passed: result.passed, total: result.totalTests, accepted, testExecutionId },
      `Pack tests for '${req.pack_ref}' completed: status=${result.status} (${result.passed}/${result.totalTests} passed)`,
    );
    await this.finish(
      {
        id: install.id,
        status: accepted ? acceptedStatus : 'failed',
        testExecutionId,
        testResult: result,
        errorMessage: accepted ? null : `Pack tests did not pass (${result.passed}/${result.totalTests} passed)`,
      },
      log,
    );
    return undefined;
  }

  /** spec 07 §1.4 row 1: only for a pack row that exists with the install's pack_id. */
  private async recordTestRow(req: PackTestRequestedPayload, install: PackInstallRow, result: Awaited<ReturnType<typeof runPackTests>>): Promise<number | null> {
    if (install.packId === null) return null;
    const pack = await getPackByRef(this.opts.db, req.pack_ref);
    if (pack === null || pack.id !== install.packId) return null;
    return insertPackTestExecution(this.opts.db, {
      packId: pack.id,
      packVersion: req.pack_version,
      executionTime: result.executionTime,
      triggerReason: req.trigger_reason,
      totalTests: result.totalTests,
      passed: result.passed,
      failed: result.failed,
      skipped: result.skipped,
      passRate: result.passRate,
      durationMs: result.durationMs,
      result,
    });
  }

  /**
   * spec 07 §1.7: `core.python` must exist. A candidate gets a throw-away environment under
   * `{runtime_envs_dir}/.pack-test-attempts/<id>/<runtime>` (no row); an active pack the
   * coordinated one of §5.3 in the legacy layout (`{packs_base_dir}/<ref>`,
   * `{runtime_envs_dir}/<ref>/python`), always claimable. The interpreter is the environment's
   * when it exists, else the runtime's plain binary.
   */
  private async preparePython(req: PackTestRequestedPayload, candidateDir: string | null, log: Logger): Promise<string> {
    const { db, config } = this.opts;
    const rt = await getRuntimeByRef(db, 'core.python');
    if (rt === null) throw new Error("Runtime 'core.python' not found; unittest/pytest pack test runners need it");
    const runtimeConfig = parseRuntimeExecutionConfig(rt.executionConfig);
    const runtimeName = rt.name.toLowerCase();
    let envDir: string;
    let packDir: string;
    if (candidateDir !== null) {
      packDir = candidateDir;
      envDir = join(config.runtimeEnvsDir, '.pack-test-attempts', String(req.pack_install_id), runtimeName);
      const r = await ensureRuntimeEnvironment({ envDir, packDir, runtimeConfig, baseEnv: this.opts.baseEnv, log });
      if (!r.ok) throw new Error(`Python test environment set-up failed: ${r.error}`);
    } else {
      packDir = join(config.packsBaseDir, req.pack_ref);
      envDir = join(config.runtimeEnvsDir, req.pack_ref, runtimeName);
      const pack = await getPackByRef(db, req.pack_ref);
      if (pack !== null) {
        const ctx = { db, workerId: this.opts.workerId, runtimeEnvsDir: config.runtimeEnvsDir, env: this.opts.env, baseEnv: this.opts.baseEnv, log };
        const outcome = await coordinateBaseEnvironment(ctx, { id: pack.id, ref: pack.ref, packDir, releaseDigest: null }, rt, true);
        if (outcome === 'failed') throw new Error(`Python test environment set-up failed for pack '${req.pack_ref}'`);
      }
    }
    return interpreterFor({ runtimeConfig, envDir, packDir }) ?? runtimeConfig.interpreter?.binary ?? 'python3';
  }

  /** spec 07 §1.2 step 7: exactly `<canonical packs_base_dir>/.pack-test-<id>`, symlinks resolved. */
  private async validateVolumeCandidate(req: PackTestRequestedPayload): Promise<string | Error> {
    // Upstream's messages (resolve_pack_test_dir).
    let root: string;
    let actual: string;
    try {
      root = await realpath(this.opts.config.packsBaseDir);
    } catch (e) {
      return new Error(`Failed to resolve configured pack root: ${toError(e).message}`);
    }
    try {
      actual = await realpath(req.candidate_path as string);
    } catch (e) {
      return new Error(`Failed to resolve pack test candidate: ${toError(e).message}`);
    }
    if (actual !== join(root, `.pack-test-${req.pack_install_id}`)) {
      return new Error(`Pack test candidate path is outside the configured pack root: ${req.candidate_path}`);
    }
    return actual;
  }

  /** spec 07 §1.2 steps 3 and 8: attempt files; "not found" is silent, other errors warned. */
  private async removeAttempt(id: number, warn: boolean, volumeCandidate?: string | null): Promise<void> {
    const { packsBaseDir, runtimeEnvsDir } = this.opts.config;
    const dirs = [
      typeof volumeCandidate === 'string' ? volumeCandidate : join(packsBaseDir, '.pack-test-attempts', String(id)),
      join(runtimeEnvsDir, '.pack-test-attempts', String(id)),
    ];
    for (const dir of dirs) {
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (e) {
        if (warn) this.log.warn({ dir, err: toError(e).message }, 'could not remove pack test attempt files');
      }
    }
  }
}

/** spec 07 §1.2 steps 4–5. */
function deliveryMismatch(install: PackInstallRow, req: PackTestRequestedPayload): string | null {
  if (install.packRef !== req.pack_ref || install.packVersion !== req.pack_version || install.triggerReason !== req.trigger_reason) {
    return 'Pack test delivery did not match its install record';
  }
  const hasHash = install.candidateAccessTokenHash !== null;
  const hasPath = req.candidate_path !== null;
  const hasToken = req.candidate_access_token !== undefined;
  if (hasHash !== hasPath || hasPath !== hasToken) return 'Pack test delivery did not match the claimed candidate mode';
  return null;
}
