/**
 * Which pack transport runs and whether it can (spec 06 §1, §8; spec 01 §2.5): `auto` is the
 * volume when `{packs_base_dir}/.attune-packs-sentinel` exists, else the API (config/run-checks.ts
 * already refuses `auto` outside development/test and an explicit `api` without ATTUNE_API_URL).
 */
import { join } from 'node:path';
import { resolveTransport } from '../config/run-checks';
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
  const problems: ConfigProblem[] = [];
  if (config.packsTransport === 'auto' && (env.ATTUNE_API_URL ?? '').trim() === '') {
    problems.push({
      key: 'packs.transport',
      message: `packs.transport is 'auto' and ${join(config.packsBaseDir, PACKS_SENTINEL)} does not exist, so packs come from the Attune API, but ATTUNE_API_URL is missing or empty (set it, or packs.transport: volume)`,
    });
  }
  if ((config.security.jwtSecret ?? '').trim() === '') {
    problems.push({
      key: 'security.jwt_secret',
      message: `packs.transport is 'api' but worker token configuration is missing: set security.jwt_secret (ATTUNE__SECURITY__JWT_SECRET) to the Attune API's JWT secret`,
    });
  }
  return problems;
}
