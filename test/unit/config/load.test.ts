import { describe, expect, it } from 'vitest';
import { loadConfig, type LoadConfigOptions } from '../../../src/config/load';
import { ConfigError } from '../../../src/errors';
import { parseScalar } from '../../../src/config/env';

function load(files: Record<string, string>, env: Record<string, string> = {}, extra: Partial<LoadConfigOptions> = {}) {
  return loadConfig({
    env,
    cwd: '/work',
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error('ENOENT');
      return f;
    },
    fileExists: (p) => p in files,
    ...extra,
  });
}

function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('fills every upstream default when no file and no env exist', () => {
    const { config } = load({});
    expect(config.database.url).toBe('postgresql://postgres:postgres@localhost:5432/attune');
    expect(config.database.schema).toBe('attune');
    expect(config.database.maxConnections).toBe(50);
    expect(config.packsBaseDir).toBe('/opt/attune/packs');
    expect(config.runtimeEnvsDir).toBe('/opt/attune/runtime_envs');
    expect(config.artifactsDir).toBe('/opt/attune/artifacts');
    expect(config.defaultExecutionTimeoutSec).toBe(600);
    expect(config.worker.maxConcurrentTasks).toBe(10);
    expect(config.worker.heartbeatIntervalSec).toBe(30);
    expect(config.worker.shutdownTimeoutSec).toBe(30);
    expect(config.worker.maxStdoutBytes).toBe(10485760);
    expect(config.worker.passthroughEnv).toEqual([]);
    expect(config.log).toMatchObject({ level: 'info', format: 'json' });
    expect(config.messageQueue).toBeNull();
    expect(config.hasWorkerSection).toBe(false);
    expect(config.agent.healthPort).toBeNull();
    expect(Object.isFrozen(config.worker)).toBe(true);
  });

  it('message_queue section present but empty gets the upstream URL default', () => {
    const { config } = load({ '/work/config.yaml': 'message_queue: {}\n' });
    expect(config.messageQueue?.url).toBe('amqp://guest:guest@localhost:5672/%2f');
  });
});

describe('loadConfig precedence', () => {
  const files = {
    '/work/config.yaml': 'worker:\n  name: from-base\n  max_concurrent_tasks: 3\nlog:\n  level: debug\n',
    '/work/config.development.yaml': 'worker:\n  max_concurrent_tasks: 4\n',
    '/work/config.production.yaml': 'worker:\n  max_concurrent_tasks: 5\n',
    '/etc/attune/agent.yaml': 'worker:\n  name: from-attune-config\n',
  };

  it('base file < config.{env}.yaml < ATTUNE__ env < --name flag', () => {
    expect(load(files).config.worker.maxConcurrentTasks).toBe(4);
    expect(load(files, { ATTUNE__ENVIRONMENT: 'production' }).config.worker.maxConcurrentTasks).toBe(5);
    const env = { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: '7', ATTUNE__WORKER__NAME: 'from-env' };
    expect(load(files, env).config.worker).toMatchObject({ maxConcurrentTasks: 7, name: 'from-env' });
    expect(load(files, env, { name: 'from-flag' }).config.worker.name).toBe('from-flag');
  });

  it('ATTUNE_CONFIG selects the base file and --config beats it', () => {
    expect(load(files, { ATTUNE_CONFIG: '/etc/attune/agent.yaml' }).config.worker.name).toBe('from-attune-config');
    expect(load(files, { ATTUNE_CONFIG: '/etc/attune/agent.yaml' }, { configPath: 'config.yaml' }).config.worker.name).toBe(
      'from-base',
    );
  });

  it('ATTUNE__ENVIRONMENT sets the environment key', () => {
    expect(load({}, { ATTUNE__ENVIRONMENT: 'staging' }).config.environment).toBe('staging');
  });

  it('parses passthrough_env from a comma list in the environment', () => {
    const { config } = load({}, { ATTUNE__WORKER__PASSTHROUGH_ENV: 'HTTP_PROXY,NO_PROXY' });
    expect(config.worker.passthroughEnv).toEqual(['HTTP_PROXY', 'NO_PROXY']);
  });

  it('a missing ATTUNE_CONFIG file is a warning, a missing --config file an error', () => {
    const { warnings } = load({}, { ATTUNE_CONFIG: '/nope.yaml' });
    expect(warnings.join('\n')).toContain('/nope.yaml');
    const err = problemsOf(() => load({}, {}, { configPath: '/nope.yaml' }));
    expect(err.message).toContain('--config');
    expect(err.message).toContain('/nope.yaml');
  });

  it('--log-level overrides log.level', () => {
    expect(load(files, {}, { logLevel: 'warn' }).config.log.level).toBe('warn');
  });
});

describe('loadConfig validation', () => {
  it('names the key, the bad value and where it came from', () => {
    const err = problemsOf(() => load({}, { ATTUNE__WORKER__MAX_CONCURRENT_TASKS: 'many' }));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain('worker.max_concurrent_tasks');
    expect(err.message).toContain('"many"');
    expect(err.message).toContain('ATTUNE__WORKER__MAX_CONCURRENT_TASKS');
  });

  it('lists all problems at once', () => {
    const err = problemsOf(() =>
      load({ '/work/config.yaml': 'log:\n  level: loud\n  format: xml\nworker:\n  max_concurrent_tasks: 0\n' }),
    );
    expect(err.problems.map((p) => p.key).sort()).toEqual(['log.format', 'log.level', 'worker.max_concurrent_tasks']);
    expect(err.message).toContain('trace, debug, info, warn, error');
  });

  it('rejects passthrough names as upstream does', () => {
    for (const [names, text] of [
      ['ATTUNE_X', 'is reserved'],
      ['HTTP_*', 'use an exact variable name'],
      ['A,A', "Duplicate passthrough environment name 'A'"],
    ] as const) {
      const err = problemsOf(() => load({}, { ATTUNE__WORKER__PASSTHROUGH_ENV: names }));
      expect(err.message).toContain(text);
    }
  });

  it('never prints secret values', () => {
    const err = problemsOf(() => load({}, { ATTUNE__SECURITY__ENCRYPTION_KEY: 'short-canary-key-123' }));
    expect(err.message).toContain('security.encryption_key');
    expect(err.message).not.toContain('short-canary-key-123');
  });

  it('rejects an invalid schema name and a non-amqp queue URL', () => {
    const err = problemsOf(() =>
      load({}, { ATTUNE__DATABASE__SCHEMA: 'attune; drop', ATTUNE__MESSAGE_QUEUE__URL: 'http://x' }),
    );
    expect(err.problems.map((p) => p.key).sort()).toEqual(['database.schema', 'message_queue.url']);
  });

  it('reports YAML syntax errors with the file name', () => {
    const err = problemsOf(() => load({ '/work/config.yaml': 'worker: [unclosed\n' }));
    expect(err.message).toContain('/work/config.yaml');
    expect(err.message).toContain('not valid YAML');
  });

  it('invalid labels and taints are warnings, not errors (upstream)', () => {
    const { config, warnings } = load({
      '/work/config.yaml': 'worker:\n  labels:\n    gpu: ""\n  taints:\n    - key: ""\n',
    });
    expect(config.worker.labels).toEqual({});
    expect(config.worker.taints).toEqual([]);
    expect(warnings.length).toBe(2);
  });

  it('warns when heartbeat_interval makes the worker unschedulable', () => {
    const { warnings } = load({}, { ATTUNE__WORKER__HEARTBEAT_INTERVAL: '120' });
    expect(warnings.join('\n')).toContain('90s');
  });
});

describe('parseScalar', () => {
  it('parses like config-rs try_parsing', () => {
    expect(parseScalar('true')).toBe(true);
    expect(parseScalar('False')).toBe(false);
    expect(parseScalar('42')).toBe(42);
    expect(parseScalar('-3')).toBe(-3);
    expect(parseScalar('1.5')).toBe(1.5);
    expect(parseScalar('amqp://x')).toBe('amqp://x');
    expect(parseScalar('99999999999999999999')).toBe(1e20);
  });
});
