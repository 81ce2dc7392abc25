import type { ConfigProblem } from '../errors';
import { runAsProblems, type RunAsDeps } from './run-as';
import type { Config, Transport } from './types';

/**
 * Checks that only matter when the agent actually serves (`run`), not for `detect`/`exec`
 * (spec 01 §2.4 rules 4 and 6, §2.5). Returns problems; the caller throws one ConfigError.
 */
export function checkRunConfig(
  config: Config,
  env: Readonly<Record<string, string | undefined>>,
  runAsDeps?: RunAsDeps,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // worker.run_as_user/group: resolvable, and the agent is root (config/run-as.ts).
  problems.push(...runAsProblems(config.worker, runAsDeps));
  if (config.messageQueue === null) {
    problems.push({
      key: 'message_queue',
      message:
        'Message queue configuration is required: add a `message_queue:` section with `url:` or set ATTUNE__MESSAGE_QUEUE__URL (e.g. amqp://guest:guest@localhost:5672/%2f)',
    });
  }
  if (config.security.enableAuth && (config.security.jwtSecret ?? '').trim() === '') {
    problems.push({
      key: 'security.jwt_secret',
      message:
        'JWT secret is required when authentication is enabled: set ATTUNE__SECURITY__JWT_SECRET (the control plane\'s secret) or security.enable_auth: false',
    });
  }
  const deployed = config.environment !== 'development' && config.environment !== 'test';
  for (const [key, value] of [
    ['packs.transport', config.packsTransport],
    ['artifacts.transport', config.artifactsTransport],
  ] as [string, Transport][]) {
    if (deployed && value === 'auto') {
      problems.push({
        key,
        message: `${key} must be set to 'volume' or 'api' for deployed workers and sensors (environment is '${config.environment}')`,
      });
    }
    if (value === 'api' && (env.ATTUNE_API_URL ?? '').trim() === '') {
      problems.push({ key, message: `${key} is 'api' but ATTUNE_API_URL is missing or empty` });
    }
  }
  return problems;
}

/** Upstream's `auto` resolution (spec 01 §2.5): volume if the sentinel file exists, else api. */
export function resolveTransport(
  value: Transport,
  sentinelPath: string,
  fileExists: (p: string) => boolean,
): 'volume' | 'api' {
  if (value !== 'auto') return value;
  return fileExists(sentinelPath) ? 'volume' : 'api';
}

/**
 * What an API transport needs (spec 06 §8), shared by the pack and artifact transports: a
 * reachable base (ATTUNE_API_URL; an explicit `api` is already refused without it above, so
 * this adds the `auto` case, which resolved to `api` because `sentinelPath` is missing) and a
 * worker token secret.
 */
export function apiTransportProblems(
  key: 'packs.transport' | 'artifacts.transport',
  value: Transport,
  sentinelPath: string,
  jwtSecret: string | null,
  env: Readonly<Record<string, string | undefined>>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (value === 'auto' && (env.ATTUNE_API_URL ?? '').trim() === '') {
    const what = key === 'packs.transport' ? 'packs come from' : 'log streams and artifacts go to';
    problems.push({
      key,
      message: `${key} is 'auto' and ${sentinelPath} does not exist, so ${what} the Attune API, but ATTUNE_API_URL is missing or empty (set it, or ${key}: volume)`,
    });
  }
  if ((jwtSecret ?? '').trim() === '') {
    problems.push({
      key: 'security.jwt_secret',
      message: `${key} is 'api' but worker token configuration is missing: set security.jwt_secret (ATTUNE__SECURITY__JWT_SECRET) to the Attune API's JWT secret`,
    });
  }
  return problems;
}
