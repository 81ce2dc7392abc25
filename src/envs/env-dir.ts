/**
 * Where a pack's runtime environment lives (spec 03 §7.2) and which interpreter it provides.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeExecutionConfig } from '../execution/types';
import { AGENT_VERSION } from '../version';
import { computeRuntimeCacheKey, rustPlatformString, sha256Hex } from './cache-key';
import { envInterpreterPath } from './templates';

export interface ResolveEnvDirOptions {
  /** Config `runtime_envs_dir` (default `/opt/attune/runtime_envs`). */
  runtimeEnvsDir: string;
  packRef: string;
  /** Lower-cased `runtime.name` (`python`, `node.js`, …). */
  runtimeName: string;
  /** Selected runtime version (spec 03 §1.3), null when the parent config is used. */
  version?: string | null;
  /** `execution.pack_release_digest`; selects the content-addressed layout when valid. */
  packReleaseDigest?: string | null;
  packDir: string;
  /** Effective `execution_config`; its `dependencies.manifest_file` feeds the key. */
  runtimeConfig: RuntimeExecutionConfig | null;
  /** Agent process env; only `ATTUNE_WORKER_IMAGE_FORMAT_VERSION` is read. */
  env: Readonly<Record<string, string | undefined>>;
  /** Test seam; default `rustPlatformString()`. */
  platform?: string;
}

/**
 * SHA-256 of `{pack_dir}/{manifest_file}`, or of empty input when there is no dependencies
 * section or the manifest is absent/unreadable (upstream `dependency_digest`).
 */
export async function dependencyDigest(
  runtimeConfig: RuntimeExecutionConfig | null | undefined,
  packDir: string,
): Promise<string> {
  const manifest = runtimeConfig?.dependencies?.manifest_file;
  if (!manifest) return sha256Hex('');
  try {
    return sha256Hex(await readFile(join(packDir, manifest)));
  } catch {
    return sha256Hex('');
  }
}

/**
 * `{runtime_envs_dir}/sha256/{key}` when a (valid) release digest is present, else the legacy
 * `{runtime_envs_dir}/{pack_ref}/{runtime_name}[-{version}]`. The path is returned even when the
 * runtime has no `environment` section (upstream computes it unconditionally); callers pass
 * `envDir: null` to the engine in that case so `{env_dir}` stays literal (spec 03 §3.3).
 */
export async function resolveEnvDir(opts: ResolveEnvDirOptions): Promise<string> {
  if (opts.packReleaseDigest) {
    const key = computeRuntimeCacheKey({
      releaseDigest: opts.packReleaseDigest,
      dependencyDigest: await dependencyDigest(opts.runtimeConfig, opts.packDir),
      runtimeName: opts.runtimeName,
      runtimeVersion: opts.version ?? 'default',
      platform: opts.platform ?? rustPlatformString(),
      workerImageFormat: opts.env.ATTUNE_WORKER_IMAGE_FORMAT_VERSION ?? AGENT_VERSION,
    });
    if (key !== null) return join(opts.runtimeEnvsDir, 'sha256', key);
  }
  const leaf = opts.version ? `${opts.runtimeName}-${opts.version}` : opts.runtimeName;
  return join(opts.runtimeEnvsDir, opts.packRef, leaf);
}

export interface InterpreterForOptions {
  envDir: string | null;
  runtimeConfig: RuntimeExecutionConfig | null | undefined;
  /** Substituted for `{pack_dir}` if the template uses it. */
  packDir?: string;
}

/**
 * The environment's interpreter (`environment.interpreter_path` with `{env_dir}` substituted)
 * when that file exists (symlinks followed), else null — the caller then uses
 * `interpreter.binary` (spec 03 §7.3).
 */
export function interpreterFor(opts: InterpreterForOptions): string | null {
  const path = envInterpreterPath(opts.runtimeConfig, opts.packDir ?? '', opts.envDir);
  return path !== null && existsSync(path) ? path : null;
}
