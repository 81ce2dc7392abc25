import type { ConfigProblem } from '../errors';
import { validatePassthroughNames } from '../execution/child-env';
import { isPlainObject, type RawConfig } from './env';
import { resolveLogLevel } from './log-filter';
import { describeValue } from '../util/describe-value';
import {
  SECRET_CONFIG_KEYS,
  type Config,
  type LogFormat,
  type LogLevel,
  type RetentionPolicy,
  type Taint,
  type Transport,
  type WorkerConfig,
  type WorkerType,
} from './types';

export interface ValidateContext {
  origin: ReadonlyMap<string, string>;
  sources: readonly string[];
  /** `--log-level` and `RUST_LOG`, which outrank `log.level` (spec 07 §4.1). */
  logInputs?: { cli?: string | undefined; rustLog?: string | undefined };
}

export interface ValidateResult {
  config: Config | null;
  problems: ConfigProblem[];
  warnings: string[];
}

const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
const TRANSPORTS: readonly Transport[] = ['volume', 'api', 'auto'];
const WORKER_TYPES: readonly WorkerType[] = ['local', 'remote', 'container'];
const RETENTION: readonly RetentionPolicy[] = ['versions', 'days', 'hours', 'minutes'];

/** Upstream defaults (spec 01 §2.2–2.3). */
export const DEFAULTS = {
  databaseUrl: 'postgresql://postgres:postgres@localhost:5432/attune',
  amqpUrl: 'amqp://guest:guest@localhost:5672/%2f',
  packsBaseDir: '/opt/attune/packs',
  runtimeEnvsDir: '/opt/attune/runtime_envs',
  artifactsDir: '/opt/attune/artifacts',
} as const;

/** Turns the merged raw tree into a fully defaulted Config, collecting every problem (spec 01 §2.4). */
export function validateConfig(raw: RawConfig, ctx: ValidateContext): ValidateResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const r = new Reader(raw, ctx, problems);

  const database = {
    url: r.str('database.url', DEFAULTS.databaseUrl),
    maxConnections: r.int('database.max_connections', 50, { min: 1 }),
    minConnections: r.int('database.min_connections', 5, { min: 0 }),
    connectTimeoutSec: r.int('database.connect_timeout', 30, { min: 1 }),
    idleTimeoutSec: r.int('database.idle_timeout', 600, { min: 1 }),
    logStatements: r.bool('database.log_statements', false),
    schema: r.str('database.schema', 'attune'),
  };
  if (database.url.trim() === '') r.problem('database.url', 'Database URL cannot be empty', undefined);
  if (!/^[A-Za-z0-9_]{1,63}$/.test(database.schema)) {
    r.problem('database.schema', 'must be 1–63 characters, letters, digits or underscore only', database.schema);
  }

  const hasMq = isPlainObject(raw.message_queue);
  const messageQueue = hasMq
    ? {
        url: r.str('message_queue.url', DEFAULTS.amqpUrl),
        exchange: r.str('message_queue.exchange', 'attune'),
        enableDlq: r.bool('message_queue.enable_dlq', true),
        messageTtl: r.int('message_queue.message_ttl', 3600, { min: 0 }),
      }
    : null;
  if (messageQueue && !/^amqps?:\/\//i.test(messageQueue.url)) {
    r.problem('message_queue.url', 'must be an amqp:// or amqps:// URL, e.g. amqp://guest:guest@localhost:5672/%2f', messageQueue.url);
  }

  const security = {
    jwtSecret: r.optStr('security.jwt_secret'),
    encryptionKey: r.optStr('security.encryption_key'),
    enableAuth: r.bool('security.enable_auth', true),
    jwtAccessExpiration: r.int('security.jwt_access_expiration', 3600, { min: 1 }),
    jwtRefreshExpiration: r.int('security.jwt_refresh_expiration', 604800, { min: 1 }),
  };
  if (security.encryptionKey !== null && Buffer.byteLength(security.encryptionKey, 'utf8') < 32) {
    r.problem('security.encryption_key', 'Encryption key must be at least 32 characters', undefined);
  }

  const hasWorkerSection = isPlainObject(raw.worker);
  const worker = readWorker(r, warnings);

  const level = r.oneOf('log.level', LOG_LEVELS, 'info');
  const filter = resolveLogLevel({ ...ctx.logInputs, configLevel: level });
  if ('problem' in filter) problems.push(filter.problem);
  const log = {
    level,
    filter: 'resolved' in filter ? filter.resolved : { directive: level, source: 'config.log.level' as const, level },
    format: r.oneOf('log.format', LOG_FORMATS, 'json'),
    mirrorRuntimeStdoutToStdio: r.bool('log.mirror_runtime_stdout_to_stdio', false),
    mirrorRuntimeStderrToStdio: r.bool('log.mirror_runtime_stderr_to_stdio', false),
  };

  const healthPort = r.optInt('agent.health_port', { min: 1, max: 65535 });
  const agent = {
    healthPort,
    healthHost: r.str('agent.health_host', '0.0.0.0'),
    startupTimeoutSec: r.int('agent.startup_timeout', 60, { min: 0 }),
    schemaWaitTimeoutSec: r.int('agent.schema_wait_timeout', 300, { min: 0 }),
  };

  const config: Config = {
    serviceName: r.str('service_name', 'attune'),
    environment: r.str('environment', 'development'),
    packsBaseDir: r.str('packs_base_dir', DEFAULTS.packsBaseDir),
    runtimeEnvsDir: r.str('runtime_envs_dir', DEFAULTS.runtimeEnvsDir),
    artifactsDir: r.str('artifacts_dir', DEFAULTS.artifactsDir),
    packsTransport: r.oneOf('packs.transport', TRANSPORTS, 'auto'),
    // issue 15 (our key): default 1 GiB, half of the chart's 2 Gi packs emptyDir.
    packsCacheMaxBytes: r.int('packs.cache_max_bytes', 1024 * 1024 * 1024, { min: 1024 * 1024 }),
    artifactsTransport: r.oneOf('artifacts.transport', TRANSPORTS, 'auto'),
    artifacts: readArtifacts(r),
    defaultExecutionTimeoutSec: r.int('default_execution_timeout_seconds', 600, { min: 1 }),
    server: { host: r.str('server.host', '0.0.0.0'), port: r.int('server.port', 8080, { min: 1, max: 65535 }) },
    log,
    database,
    messageQueue,
    security,
    worker,
    hasWorkerSection,
    agent,
    sources: ctx.sources,
  };
  return { config: problems.length === 0 ? deepFreeze(config) : null, problems, warnings };
}

/** spec 06 §8 (upstream `ArtifactsConfig` / `SegmentedLogConfig` checks): all > 0, initial ≤ max. */
function readArtifacts(r: Reader): Config['artifacts'] {
  const a = {
    logSegmentMaxBytes: r.int('artifacts.log_segment_max_bytes', 1_048_576, { min: 1, max: 4_294_967_295 }),
    logSegmentInitialBytes: r.int('artifacts.log_segment_initial_bytes', 65_536, { min: 1 }),
    flushIntervalMs: r.int('artifacts.flush_interval_ms', 500, { min: 1 }),
    logSegmentRetryMaxAttempts: r.int('artifacts.log_segment_retry_max_attempts', 5, { min: 1, max: 100 }),
    logSegmentRetryAttemptTimeoutMs: r.int('artifacts.log_segment_retry_attempt_timeout_ms', 10_000, { min: 1 }),
    logSegmentRetryInitialBackoffMs: r.int('artifacts.log_segment_retry_initial_backoff_ms', 100, { min: 1 }),
    logSegmentRetryMaxBackoffMs: r.int('artifacts.log_segment_retry_max_backoff_ms', 2_000, { min: 1 }),
    logFinalizationTimeoutMs: r.int('artifacts.log_finalization_timeout_ms', 1_000, { min: 1 }),
  };
  if (a.logSegmentInitialBytes > a.logSegmentMaxBytes) {
    r.problem('artifacts.log_segment_initial_bytes', 'artifacts.log_segment_initial_bytes cannot exceed artifacts.log_segment_max_bytes', a.logSegmentInitialBytes);
  }
  if (a.logSegmentRetryInitialBackoffMs > a.logSegmentRetryMaxBackoffMs) {
    r.problem(
      'artifacts.log_segment_retry_initial_backoff_ms',
      'artifacts.log_segment_retry_initial_backoff_ms cannot exceed artifacts.log_segment_retry_max_backoff_ms',
      a.logSegmentRetryInitialBackoffMs,
    );
  }
  return a;
}

function readWorker(r: Reader, warnings: string[]): WorkerConfig {
  const passthroughEnv = r.strList('worker.passthrough_env');
  for (const msg of validatePassthroughNames(passthroughEnv)) r.problem('worker.passthrough_env', msg, undefined);

  const maxConcurrentTasks = r.int('worker.max_concurrent_tasks', 10, { min: 1, hint: 'upstream would block forever with 0' });
  const heartbeatIntervalSec = r.int('worker.heartbeat_interval', 30, { min: 1 });
  if (heartbeatIntervalSec > 90) {
    warnings.push(
      `worker.heartbeat_interval is ${heartbeatIntervalSec}s: the Attune scheduler ignores workers whose heartbeat is older than 90s, so this agent will not be scheduled`,
    );
  }
  const workerType = r.optOneOf('worker.worker_type', WORKER_TYPES);
  const capabilities = r.optObject('worker.capabilities');
  return {
    name: r.optStr('worker.name'),
    workerType,
    runtimeId: r.optInt('worker.runtime_id', { min: 1 }),
    host: r.optStr('worker.host'),
    port: r.optInt('worker.port', { min: 1, max: 65535 }),
    capabilities,
    labels: readLabels(r.optObject('worker.labels'), warnings),
    taints: readTaints(r.get('worker.taints'), warnings),
    maxConcurrentTasks,
    heartbeatIntervalSec,
    taskTimeoutSec: r.int('worker.task_timeout', 300, { min: 1 }),
    // The bounded writer keeps max − 128 bytes for the truncation notice (spec 03 §4.1).
    maxStdoutBytes: r.int('worker.max_stdout_bytes', 10485760, { min: 1024 }),
    maxStderrBytes: r.int('worker.max_stderr_bytes', 10485760, { min: 1024 }),
    executionLogRetentionPolicy: r.oneOf('worker.execution_log_retention_policy', RETENTION, 'days'),
    executionLogRetentionLimit: r.int('worker.execution_log_retention_limit', 7, { min: 1 }),
    // null also means 30 (spec 01 §2.3).
    shutdownTimeoutSec: r.get('worker.shutdown_timeout') === null ? 30 : r.int('worker.shutdown_timeout', 30, { min: 0 }),
    streamLogs: r.bool('worker.stream_logs', true),
    passthroughEnv,
    // Resolved (name → id) and checked against the agent's own uid at start-up: config/run-as.ts.
    runAsUser: nonBlank(r.optStr('worker.run_as_user')),
    runAsGroup: nonBlank(r.optStr('worker.run_as_group')),
  };
}

function nonBlank(v: string | null): string | null {
  return v === null || v.trim() === '' ? null : v.trim();
}

/** Invalid labels/taints are not fatal upstream: warn and drop the capability (spec 01 §2.3). */
function readLabels(obj: Readonly<Record<string, unknown>> | null, warnings: string[]): Record<string, string> {
  if (obj === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k.trim() === '' || typeof v !== 'string' || v.trim() === '') {
      warnings.push(`worker.labels is invalid (key '${k}' needs a non-blank string value); labels are not advertised`);
      return {};
    }
    out[k] = v;
  }
  return out;
}

function readTaints(raw: unknown, warnings: string[]): Taint[] {
  if (raw === undefined || raw === null) return [];
  const bad = (why: string): Taint[] => {
    warnings.push(`worker.taints is invalid (${why}); taints are not advertised`);
    return [];
  };
  if (!Array.isArray(raw)) return bad('must be a list of {key, value?, effect}');
  const out: Taint[] = [];
  for (const t of raw) {
    if (!isPlainObject(t) || typeof t.key !== 'string' || t.key.trim() === '') return bad('every taint needs a non-empty key');
    if (t.value !== undefined && t.value !== null && (typeof t.value !== 'string' || t.value.trim() === '')) {
      return bad(`taint '${t.key}' has a blank value`);
    }
    const effect = t.effect ?? 'no_schedule';
    if (effect !== 'no_schedule' && effect !== 'prefer_no_schedule') {
      return bad(`taint '${t.key}' effect must be no_schedule or prefer_no_schedule`);
    }
    out.push(typeof t.value === 'string' ? { key: t.key, value: t.value, effect } : { key: t.key, effect });
  }
  return out;
}

interface IntOpts {
  min?: number;
  max?: number;
  hint?: string;
}

/** Typed access to the raw tree by dotted snake_case key, recording problems with their source. */
class Reader {
  constructor(
    private readonly raw: RawConfig,
    private readonly ctx: ValidateContext,
    private readonly problems: ConfigProblem[],
  ) {}

  get(key: string): unknown {
    let cur: unknown = this.raw;
    for (const part of key.split('.')) {
      // Own keys only: never an inherited Object.prototype member.
      if (!isPlainObject(cur) || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
      cur = cur[part];
    }
    return cur;
  }

  problem(key: string, message: string, value: unknown): void {
    const secret = SECRET_CONFIG_KEYS.includes(key);
    // Values are arbitrary YAML: never String()/template them (issue 14, {toString: 0}).
    const shown = value === undefined ? undefined : secret ? '[REDACTED]' : describeValue(value);
    const source = this.ctx.origin.get(key) ?? this.ctx.origin.get(key.split('.')[0] as string);
    this.problems.push({ key, message, ...(shown !== undefined ? { value: shown } : {}), ...(source ? { source } : {}) });
  }

  str(key: string, def: string): string {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    this.problem(key, 'expected a string', v);
    return def;
  }

  optStr(key: string): string | null {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.problem(key, 'expected a string', v);
    return null;
  }

  int(key: string, def: number, opts: IntOpts = {}): number {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    return this.checkInt(key, v, opts) ?? def;
  }

  optInt(key: string, opts: IntOpts = {}): number | null {
    const v = this.get(key);
    if (v === undefined || v === null || v === '') return null;
    return this.checkInt(key, v, opts);
  }

  private checkInt(key: string, v: unknown, opts: IntOpts): number | null {
    const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? `between ${opts.min} and ${opts.max}`
        : opts.min !== undefined
          ? `≥ ${opts.min}`
          : 'any';
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      this.problem(key, `expected a whole number (${range})`, v);
      return null;
    }
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      this.problem(key, `must be ${range}${opts.hint ? ` (${opts.hint})` : ''}`, v);
      return null;
    }
    return n;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.get(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'boolean') return v;
    const s = typeof v === 'string' || typeof v === 'number' ? `${v}`.trim().toLowerCase() : null;
    if (s !== null && ['true', '1', 'yes', 'on'].includes(s)) return true;
    if (s !== null && ['false', '0', 'no', 'off'].includes(s)) return false;
    this.problem(key, 'expected a boolean (true/false, 1/0, yes/no, on/off)', v);
    return def;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], def: T): T {
    return this.optOneOf(key, allowed) ?? def;
  }

  optOneOf<T extends string>(key: string, allowed: readonly T[]): T | null {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    const s = typeof v === 'string' ? v.trim().toLowerCase() : v;
    if (typeof s === 'string' && (allowed as readonly string[]).includes(s)) return s as T;
    this.problem(key, `must be one of: ${allowed.join(', ')}`, v);
    return null;
  }

  optObject(key: string): Readonly<Record<string, unknown>> | null {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    if (isPlainObject(v)) return v;
    this.problem(key, 'expected a mapping (key: value pairs)', v);
    return null;
  }

  strList(key: string): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (typeof v === 'string') return v === '' ? [] : v.split(',');
    this.problem(key, 'expected a list of strings', v);
    return [];
  }
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
