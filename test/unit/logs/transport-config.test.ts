import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load';
import { checkRunConfig } from '../../../src/config/run-checks';
import { ConfigError } from '../../../src/errors';
import { artifactsTransportProblems, resolveArtifactsTransport } from '../../../src/logs';

const config = (artifactsTransport: 'auto' | 'api' | 'volume', jwtSecret: string | null = 's') => ({
  artifactsTransport,
  artifactsDir: '/a',
  security: { jwtSecret, encryptionKey: null, enableAuth: true, jwtAccessExpiration: 1, jwtRefreshExpiration: 1 },
});

function load(env: Record<string, string>) {
  return loadConfig({ env, cwd: '/w', readFile: () => { throw new Error('ENOENT'); }, fileExists: () => false }).config;
}

describe('artifact transport selection (spec 06 §1, upstream detection.rs @457e0ae)', () => {
  it('auto is the volume when {artifacts_dir}/.attune-api-sentinel exists (content not read), else the API', () => {
    expect(resolveArtifactsTransport(config('auto'), (p) => p === '/a/.attune-api-sentinel')).toBe('volume');
    expect(resolveArtifactsTransport(config('auto'), () => false)).toBe('api');
    expect(resolveArtifactsTransport(config('volume'), () => false)).toBe('volume');
    expect(resolveArtifactsTransport(config('api'), () => true)).toBe('api');
  });

  it('names what an API transport is missing: the worker token secret, ATTUNE_API_URL for auto', () => {
    expect(artifactsTransportProblems(config('api', ' '), { ATTUNE_API_URL: 'http://api' }, 'api').map((p) => p.message)).toEqual([
      "artifacts.transport is 'api' but worker token configuration is missing: set security.jwt_secret (ATTUNE__SECURITY__JWT_SECRET) to the Attune API's JWT secret",
    ]);
    expect(artifactsTransportProblems(config('auto'), {}, 'api')[0]!.message).toBe(
      "artifacts.transport is 'auto' and /a/.attune-api-sentinel does not exist, so log streams and artifacts go to the Attune API, but ATTUNE_API_URL is missing or empty (set it, or artifacts.transport: volume)",
    );
    expect(artifactsTransportProblems(config('volume', null), {}, 'volume')).toEqual([]);
  });

  it('an explicit api without ATTUNE_API_URL is refused by the run checks', () => {
    const c = load({ ATTUNE__ARTIFACTS__TRANSPORT: 'api', ATTUNE__MESSAGE_QUEUE__URL: 'amqp://x' });
    expect(checkRunConfig(c, {}).map((p) => p.message)).toContain("artifacts.transport is 'api' but ATTUNE_API_URL is missing or empty");
  });
});

describe('artifacts.* segment keys (spec 06 §8)', () => {
  it('defaults to upstream values', () => {
    expect(load({}).artifacts).toEqual({
      logSegmentMaxBytes: 1_048_576,
      logSegmentInitialBytes: 65_536,
      flushIntervalMs: 500,
      logSegmentRetryMaxAttempts: 5,
      logSegmentRetryAttemptTimeoutMs: 10_000,
      logSegmentRetryInitialBackoffMs: 100,
      logSegmentRetryMaxBackoffMs: 2_000,
      logFinalizationTimeoutMs: 1_000,
    });
  });

  it('refuses an initial segment larger than the max, an initial backoff above the max, and zeros', () => {
    let err: unknown;
    try {
      load({
        ATTUNE__ARTIFACTS__LOG_SEGMENT_MAX_BYTES: '4096',
        ATTUNE__ARTIFACTS__LOG_SEGMENT_RETRY_INITIAL_BACKOFF_MS: '5000',
        ATTUNE__ARTIFACTS__LOG_SEGMENT_RETRY_MAX_ATTEMPTS: '0',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msgs = (err as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    expect(msgs).toContain('artifacts.log_segment_initial_bytes: artifacts.log_segment_initial_bytes cannot exceed artifacts.log_segment_max_bytes');
    expect(msgs).toContain('artifacts.log_segment_retry_initial_backoff_ms: artifacts.log_segment_retry_initial_backoff_ms cannot exceed artifacts.log_segment_retry_max_backoff_ms');
    expect(msgs.some((m) => m.startsWith('artifacts.log_segment_retry_max_attempts: must be between 1 and'))).toBe(true);
  });
});
