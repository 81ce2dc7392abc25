/**
 * Which pack transport runs and whether it can (spec 06 §1, §8; spec 01 §2.5): `auto` is the
 * volume when `{packs_base_dir}/.attune-packs-sentinel` exists, else the API (config/run-checks.ts
 * already refuses `auto` outside development/test and an explicit `api` without ATTUNE_API_URL).
 */
import { join } from 'node:path';
import { apiTransportProblems, resolveTransport } from '../config/run-checks';
import type { Config } from '../config/types';
import type { ConfigProblem } from '../errors';

export const PACKS_SENTINEL = '.attune-packs-sentinel';

export function resolvePacksTransport(config: Pick<Config, 'packsTransport' | 'packsBaseDir'>, fileExists: (p: string) => boolean): 'volume' | 'api' {
  return resolveTransport(config.packsTransport, join(config.packsBaseDir, PACKS_SENTINEL), fileExists);
}

export function packsTransportProblems(
  config: Pick<Config, 'packsTransport' | 'packsBaseDir' | 'security'>,
  env: Readonly<Record<string, string | undefined>>,
  resolved: 'volume' | 'api',
): ConfigProblem[] {
  if (resolved !== 'api') return [];
  return apiTransportProblems('packs.transport', config.packsTransport, join(config.packsBaseDir, PACKS_SENTINEL), config.security.jwtSecret, env);
}
