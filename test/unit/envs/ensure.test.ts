import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/envs/cache-key';
import { interpreterFor, resolveEnvDir } from '../../../src/envs/env-dir';
import { clearRuntimeEnvironmentFailures, ensureRuntimeEnvironment, type EnsureRuntimeEnvironmentOptions } from '../../../src/envs/ensure';
import type { RuntimeExecutionConfig } from '../../../src/execution/types';
import { createSilentLogger } from '../../../src/log';

const log = createSilentLogger();

/** Baseline with every installer pointed at an unreachable registry: these tests must not need network. */
const BASE_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  PIP_INDEX_URL: 'http://127.0.0.1:9/simple',
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_update_notifier: 'false',
};

let root: string;
let packDir: string;
let envsDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ensure-env-'));
  packDir = join(root, 'pack');
  envsDir = join(root, 'envs');
  mkdirSync(packDir);
  clearRuntimeEnvironmentFailures();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const ensure = (opts: Partial<EnsureRuntimeEnvironmentOptions> & { envDir: string; runtimeConfig: RuntimeExecutionConfig }) =>
  ensureRuntimeEnvironment({ packDir, baseEnv: BASE_ENV, log, ...opts });

function lines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Python config as in the built-in catalog, with the install command counted by a wrapper. */
function pythonConfig(installCount: string): RuntimeExecutionConfig {
  return {
    interpreter: { binary: 'python3', args: ['-u'], file_extension: '.py' },
    environment: {
      env_type: 'virtualenv',
      dir_name: '.venv',
      create_command: ['python3', '-m', 'venv', '--copies', '{env_dir}'],
      interpreter_path: '{env_dir}/bin/python3',
    },
    dependencies: {
      manifest_file: 'requirements.txt',
      install_command: ['sh', '-c', `echo run >> ${installCount}; exec "$0" "$@"`, '{interpreter}', '-m', 'pip', 'install', '-r', '{manifest_path}'],
    },
  };
}

/** A fake runtime whose create command counts its invocations and takes a while. */
function countingConfig(counter: string, extra: Partial<RuntimeExecutionConfig> = {}): RuntimeExecutionConfig {
  return {
    interpreter: { binary: '/bin/sh' },
    environment: {
      env_type: 'fake',
      create_command: ['sh', '-c', `echo run >> ${counter}; sleep 0.3; mkdir -p "$0/bin" && ln -s /bin/sh "$0/bin/sh"`, '{env_dir}'],
      interpreter_path: '{env_dir}/bin/sh',
    },
    ...extra,
  };
}

describe('ensureRuntimeEnvironment with python venv (real python3)', () => {
  it('creates the venv, installs once per manifest digest and re-installs when the manifest changes', async () => {
    const installCount = join(root, 'install-count');
    const config = pythonConfig(installCount);
    const manifest = join(packDir, 'requirements.txt');
    writeFileSync(manifest, '# no dependencies: must work offline\n');
    const envDir = join(envsDir, 'mypack', 'python');

    const first = await ensure({ envDir, runtimeConfig: config });
    expect(first).toEqual({ ok: true, status: 'created' });
    expect(existsSync(join(envDir, 'bin', 'python3'))).toBe(true);
    expect(readFileSync(join(envDir, '.attune_deps_installed'), 'utf8')).toBe(sha256Hex(readFileSync(manifest)));
    expect(lines(installCount)).toBe(1);
    expect(interpreterFor({ envDir, runtimeConfig: config })).toBe(join(envDir, 'bin', 'python3'));

    const second = await ensure({ envDir, runtimeConfig: config });
    expect(second).toEqual({ ok: true, status: 'ready' });
    expect(lines(installCount)).toBe(1);

    writeFileSync(manifest, '# changed\n');
    const third = await ensure({ envDir, runtimeConfig: config });
    expect(third).toEqual({ ok: true, status: 'updated' });
    expect(lines(installCount)).toBe(2);
    expect(readFileSync(join(envDir, '.attune_deps_installed'), 'utf8')).toBe(sha256Hex('# changed\n'));
  }, 60_000);

  it('builds a content-addressed venv in a temp sibling and publishes it with a ready marker', async () => {
    // --without-pip keeps this one fast; the pip path is covered above.
    const installCount = join(root, 'install-count');
    const config: RuntimeExecutionConfig = {
      ...pythonConfig(installCount),
      environment: { ...pythonConfig(installCount).environment, create_command: ['python3', '-m', 'venv', '--copies', '--without-pip', '{env_dir}'] },
      dependencies: { manifest_file: 'requirements.txt', install_command: ['sh', '-c', `echo run >> ${installCount}`] },
    };
    writeFileSync(join(packDir, 'requirements.txt'), '\n');
    const envDir = await resolveEnvDir({
      runtimeEnvsDir: envsDir,
      packRef: 'mypack',
      runtimeName: 'python',
      packReleaseDigest: 'c'.repeat(64),
      packDir,
      runtimeConfig: config,
      env: {},
    });
    const key = envDir.split('/').pop()!;

    const result = await ensure({ envDir, runtimeConfig: config });
    expect(result).toEqual({ ok: true, status: 'created' });
    expect(readFileSync(join(envDir, '.attune-runtime-ready'), 'utf8')).toBe(key);
    expect(readdirSync(join(envsDir, 'sha256')).sort()).toEqual([key]); // no temp dir, no lock left
    // The relocated --copies venv still runs.
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync(join(envDir, 'bin', 'python3'), ['-c', 'print(6*7)']).toString().trim()).toBe('42');

    expect(await ensure({ envDir, runtimeConfig: config })).toEqual({ ok: true, status: 'ready' });
    expect(lines(join(root, 'install-count'))).toBe(1);
  }, 60_000);
});

describe('ensureRuntimeEnvironment with node_modules (real npm)', () => {
  it('runs upstream `npm install --prefix {env_dir}` for a dependency-less package.json without network', async () => {
    const config: RuntimeExecutionConfig = {
      interpreter: { binary: 'node', file_extension: '.js' },
      environment: {
        env_type: 'node_modules',
        dir_name: 'node_modules',
        create_command: ['sh', '-c', 'mkdir -p {env_dir} && cp {manifest_path} {env_dir}/ 2>/dev/null || true'],
        interpreter_path: null,
      },
      dependencies: { manifest_file: 'package.json', install_command: ['npm', 'install', '--prefix', '{env_dir}'] },
      env_vars: { NODE_PATH: '{env_dir}/node_modules' },
    };
    const pkg = JSON.stringify({ name: 'demo-pack', version: '1.0.0', private: true });
    writeFileSync(join(packDir, 'package.json'), pkg);
    const envDir = join(envsDir, 'mypack', 'node.js');

    const result = await ensure({ envDir, runtimeConfig: config });
    expect(result).toEqual({ ok: true, status: 'created' });
    expect(existsSync(join(envDir, 'package-lock.json'))).toBe(true);
    expect(readFileSync(join(envDir, '.attune_deps_installed'), 'utf8')).toBe(sha256Hex(pkg));
    // npm's cache went under the setup HOME, not the agent's home.
    expect(existsSync(join(envDir, '.attune-setup'))).toBe(true);
  }, 60_000);
});

describe('ensureRuntimeEnvironment failures', () => {
  it('reports a failing create command in upstream shape and keeps the stderr tail aside', async () => {
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 'virtualenv', create_command: ['sh', '-c', 'echo boom >&2; exit 3'] },
    };
    const result = await ensure({ envDir: join(envsDir, 'p', 'python'), runtimeConfig: config });
    expect(result).toEqual({ ok: false, error: 'Environment creation failed (exit 3, stderr_bytes=5)', output: 'boom\n', cached: false });
  });

  it('reports a failing install command with its exit code and byte count', async () => {
    writeFileSync(join(packDir, 'requirements.txt'), 'x\n');
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 'fake', create_command: ['mkdir', '-p', '{env_dir}'] },
      dependencies: { manifest_file: 'requirements.txt', install_command: ['sh', '-c', 'printf abc >&2; exit 7'] },
    };
    const envDir = join(envsDir, 'p', 'fake');
    const result = await ensure({ envDir, runtimeConfig: config });
    expect(result).toMatchObject({ ok: false, error: 'Dependency installation failed (exit 7, stderr_bytes=3)' });
    expect(existsSync(join(envDir, '.attune_deps_installed'))).toBe(false);
  });

  it('rejects an environment without create_command', async () => {
    const result = await ensure({ envDir: join(envsDir, 'p', 'x'), runtimeConfig: { environment: { env_type: 'virtualenv', create_command: [] } } });
    expect(result).toMatchObject({ ok: false, error: "Environment type 'virtualenv' requires a create_command but none configured" });
  });

  it('names the program when the create command cannot be spawned', async () => {
    const result = await ensure({
      envDir: join(envsDir, 'p', 'x'),
      runtimeConfig: { environment: { env_type: 't', create_command: ['/nonexistent/venv-maker', '{env_dir}'] } },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/^Failed to run environment create command '\/nonexistent\/venv-maker': .*ENOENT/);
  });

  it('remembers a failure per env dir and manifest, retrying after the retry window or a manifest change', async () => {
    const counter = join(root, 'count');
    writeFileSync(join(packDir, 'requirements.txt'), 'v1\n');
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 't', create_command: ['sh', '-c', `echo run >> ${counter}; exit 1`] },
      dependencies: { manifest_file: 'requirements.txt', install_command: ['true'] },
    };
    let clock = 1_000_000;
    const opts = { envDir: join(envsDir, 'p', 't'), runtimeConfig: config, now: () => clock, failureRetryMs: 300_000 };

    expect(await ensure(opts)).toMatchObject({ ok: false, cached: false });
    const again = await ensure(opts);
    expect(again).toMatchObject({ ok: false, cached: true, error: 'Environment creation failed (exit 1, stderr_bytes=0)' });
    expect(lines(counter)).toBe(1);

    clock += 300_000;
    expect(await ensure(opts)).toMatchObject({ ok: false, cached: false });
    expect(lines(counter)).toBe(2);

    writeFileSync(join(packDir, 'requirements.txt'), 'v2\n');
    expect(await ensure(opts)).toMatchObject({ ok: false, cached: false });
    expect(lines(counter)).toBe(3);
  });

  it('kills the whole process group when a setup command exceeds its timeout', async () => {
    const pidFile = join(root, 'grandchild.pid');
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 't', create_command: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`] },
    };
    const started = Date.now();
    const result = await ensure({ envDir: join(envsDir, 'p', 't'), runtimeConfig: config, setupTimeoutMs: 500 });
    expect(result).toMatchObject({ ok: false, error: 'Environment creation timed out after 0.5 seconds' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // Dead = gone, or a zombie waiting for PID 1 to reap it (it was SIGKILLed with its group).
    const isDead = (): boolean => {
      try {
        return readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
      } catch {
        return true;
      }
    };
    let alive = !isDead();
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 20));
      alive = !isDead();
    }
    expect(alive).toBe(false);
  });

  it('returns an error when the validated interpreter is missing, leaving neither env nor temp dir', async () => {
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 't', create_command: ['mkdir', '-p', '{env_dir}'], interpreter_path: '{env_dir}/bin/python3' },
    };
    const envDir = join(envsDir, 'sha256', 'd'.repeat(64));
    const result = await ensure({ envDir, runtimeConfig: config });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/^Runtime environment validation failed: interpreter '.*\/\.runtime\.[0-9a-f-]+\.tmp\/bin\/python3' is missing$/);
    expect(readdirSync(join(envsDir, 'sha256'))).toEqual([]);
  });

  it('refuses a content-addressed dir that exists without a valid ready marker', async () => {
    const envDir = join(envsDir, 'sha256', 'e'.repeat(64));
    mkdirSync(envDir, { recursive: true });
    writeFileSync(join(envDir, '.attune-runtime-ready'), 'someone-else');
    const result = await ensure({ envDir, runtimeConfig: countingConfig(join(root, 'c')) });
    expect(result).toMatchObject({ ok: false, error: `Runtime cache destination ${envDir} exists without a valid ready marker` });
    expect(lines(join(root, 'c'))).toBe(0);
  });
});

describe('ensureRuntimeEnvironment no-ops', () => {
  it('does nothing without an environment section, for env_type none, or when the pack dir is missing', async () => {
    const envDir = join(envsDir, 'p', 'x');
    expect(await ensure({ envDir, runtimeConfig: { interpreter: { binary: 'bash' } } })).toEqual({ ok: true, status: 'skipped' });
    expect(await ensure({ envDir, runtimeConfig: { environment: { env_type: 'none', create_command: ['false'] } } })).toEqual({
      ok: true,
      status: 'skipped',
    });
    expect(await ensure({ envDir, runtimeConfig: countingConfig(join(root, 'c')), packDir: join(root, 'missing') })).toEqual({
      ok: true,
      status: 'skipped',
    });
    expect(existsSync(envsDir)).toBe(false);
  });
});

describe('ensureRuntimeEnvironment setup environment (spec 03 §3.4)', () => {
  it('gives setup commands the baseline, runtime env_vars and a private HOME, but no ATTUNE_ names', async () => {
    const dump = join(root, 'env.txt');
    const config: RuntimeExecutionConfig = {
      environment: { env_type: 't', create_command: ['sh', '-c', `env > ${dump}; mkdir -p {env_dir}`] },
      env_vars: {
        EXTRA_PATH: { value: '{pack_dir}/lib', operation: 'prepend' },
        PATH: { value: '/opt/extra', operation: 'append' },
        ATTUNE_API_TOKEN: 'leak',
      },
    };
    const envDir = join(envsDir, 'p', 't');
    expect(await ensure({ envDir, runtimeConfig: config, baseEnv: { PATH: '/usr/bin:/bin', LANG: 'C' } })).toMatchObject({ ok: true });
    const vars = Object.fromEntries(
      readFileSync(dump, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(vars).toMatchObject({
      HOME: join(envDir, '.attune-setup'),
      XDG_CONFIG_HOME: join(envDir, '.attune-setup', 'config'),
      XDG_CACHE_HOME: join(envDir, '.attune-setup', 'cache'),
      PIP_CACHE_DIR: join(envDir, '.attune-setup', 'cache', 'pip'),
      PIP_CONFIG_FILE: '/dev/null',
      EXTRA_PATH: join(packDir, 'lib'),
      PATH: '/usr/bin:/bin:/opt/extra',
      LANG: 'C',
    });
    expect(Object.keys(vars).filter((k) => k.startsWith('ATTUNE_'))).toEqual([]);
    expect(vars.npm_config_registry).toBeUndefined();
  });
});

describe('ensureRuntimeEnvironment concurrency', () => {
  it('runs the create command once for two concurrent calls on the same dir', async () => {
    const counter = join(root, 'count');
    const envDir = join(envsDir, 'p', 'fake');
    const [a, b] = await Promise.all([
      ensure({ envDir, runtimeConfig: countingConfig(counter) }),
      ensure({ envDir, runtimeConfig: countingConfig(counter) }),
    ]);
    expect(lines(counter)).toBe(1);
    expect([a, b].map((r) => r.ok && r.status).sort()).toEqual(['created', 'ready']);
    expect(existsSync(`${envDir}.lock`)).toBe(false);
  });

  it('runs the create command once for concurrent content-addressed builds', async () => {
    const counter = join(root, 'count');
    const envDir = join(envsDir, 'sha256', 'f'.repeat(64));
    const results = await Promise.all([1, 2, 3].map(() => ensure({ envDir, runtimeConfig: countingConfig(counter) })));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(lines(counter)).toBe(1);
    expect(readFileSync(join(envDir, '.attune-runtime-ready'), 'utf8')).toBe('f'.repeat(64));
  });
});
