/** Runtime environments (venv, node_modules): location, readiness, setup (spec 03 §7). */
export { resolveEnvDir, interpreterFor, dependencyDigest } from './env-dir';
export type { ResolveEnvDirOptions, InterpreterForOptions } from './env-dir';
export {
  ensureRuntimeEnvironment,
  clearRuntimeEnvironmentFailures,
  DEPS_MARKER,
  DEFAULT_SETUP_TIMEOUT_MS,
  DEFAULT_FAILURE_RETRY_MS,
} from './ensure';
export type { EnsureRuntimeEnvironmentOptions, EnsureRuntimeEnvironmentResult } from './ensure';
export { computeRuntimeCacheKey, rustPlatformString, sha256Hex, READY_MARKER, PACK_REF_MARKER } from './cache-key';
export type { RuntimeCacheKeyInput } from './cache-key';
export { resolveCommand, buildTemplateVars } from './templates';
