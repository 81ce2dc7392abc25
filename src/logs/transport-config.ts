/**
 * Which artifact transport runs (spec 06 §1; upstream `artifact_transport/detection.rs`
 * @457e0ae): `auto` is the volume when `{artifacts_dir}/.attune-api-sentinel` exists (its
 * content is not read, an unparseable file still counts), else the API. The checks of an API
 * transport are the pack side's (config/run-checks.ts `apiTransportProblems`).
 */
import { join } from 'node:path';
import { apiTransportProblems, resolveTransport } from '../config/run-checks';
import type { Config } from '../config/types';
import type { ConfigProblem } from '../errors';

export const ARTIFACTS_SENTINEL = '.attune-api-sentinel';

export function resolveArtifactsTransport(config: Pick<Config, 'artifactsTransport' | 'artifactsDir'>, fileExists: (p: string) => boolean): 'volume' | 'api' {
  return resolveTransport(config.artifactsTransport, join(config.artifactsDir, ARTIFACTS_SENTINEL), fileExists);
}

export function artifactsTransportProblems(
  config: Pick<Config, 'artifactsTransport' | 'artifactsDir' | 'security'>,
  env: Readonly<Record<string, string | undefined>>,
  resolved: 'volume' | 'api',
): ConfigProblem[] {
  if (resolved !== 'api') return [];
  return apiTransportProblems('artifacts.transport', config.artifactsTransport, join(config.artifactsDir, ARTIFACTS_SENTINEL), config.security.jwtSecret, env);
}
