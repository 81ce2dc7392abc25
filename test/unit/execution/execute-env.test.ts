/** The child environment (spec 03 §3; §10 items 14–20, 38). */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { baseEnv, HAS_BASH, HAS_PYTHON, makePack, makeRequest, run, tempDir } from './helpers';

function envOf(stdout: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(stdout).split('\0')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const ENV_DUMP = { 'act.sh': 'env -0' };

describe.skipIf(!HAS_BASH)('child environment', () => {
  afterEach(() => {
    delete process.env.AGENT_PROCESS_CANARY;
  });

  it('always provides the ATTUNE_* context and rewrites a 0.0.0.0 API URL (§10 item 14)', async () => {
    const packDir = makePack(ENV_DUMP);
    const outcome = await run(makeRequest({ packDir, executionId: 4242, actionRef: 'demo.act', packRef: 'demo' }));
    const env = envOf(outcome.result.stdout);
    expect(env).toMatchObject({
      ATTUNE_EXEC_ID: '4242',
      ATTUNE_ACTION: 'demo.act',
      ATTUNE_PACK_REF: 'demo',
      ATTUNE_API_URL: 'http://127.0.0.1:8080',
      ATTUNE_ARTIFACTS_DIR: '/opt/attune/artifacts',
      ATTUNE_RUNTIME_ENVS_DIR: '/opt/attune/runtime_envs',
      ATTUNE_PARAMETER_DELIVERY: 'stdin',
      ATTUNE_PARAMETER_FORMAT: 'json',
    });
    for (const absent of ['ATTUNE_API_TOKEN', 'ATTUNE_PARAMETER_FILE', 'ATTUNE_RULE', 'ATTUNE_TRIGGER', 'ATTUNE_TRACE_TAG', 'ATTUNE_PACK_RELEASE_DIGEST']) {
      expect(env).not.toHaveProperty(absent);
    }
  });

  it('adds the optional context variables when given, and ATTUNE_CONTEXT_* from parameters.context', async () => {
    const packDir = makePack(ENV_DUMP);
    const outcome = await run(
      makeRequest({
        packDir,
        context: {
          apiUrl: 'http://[::]:9000/api',
          artifactsDir: '/a',
          runtimeEnvsDir: '/r',
          packReleaseDigest: 'd'.repeat(64),
          traceTag: 'trace-1',
          apiToken: 'jwt.token.here',
          rule: 'demo.rule',
          trigger: 'core.timer',
        },
        parameters: { context: { user: 'bob', n: 5, flag: true, obj: { a: [1] } } },
      }),
    );
    const env = envOf(outcome.result.stdout);
    expect(env).toMatchObject({
      ATTUNE_API_URL: 'http://127.0.0.1:9000/api',
      ATTUNE_PACK_RELEASE_DIGEST: 'd'.repeat(64),
      ATTUNE_TRACE_TAG: 'trace-1',
      ATTUNE_API_TOKEN: 'jwt.token.here',
      ATTUNE_RULE: 'demo.rule',
      ATTUNE_TRIGGER: 'core.timer',
      ATTUNE_CONTEXT_USER: 'bob',
      ATTUNE_CONTEXT_N: '5',
      ATTUNE_CONTEXT_FLAG: 'true',
      ATTUNE_CONTEXT_OBJ: '{"a":[1]}',
    });
  });

  it('passes only the baseline allowlist, never the agent environment (§10 item 16)', async () => {
    process.env.AGENT_PROCESS_CANARY = 'leaked';
    const source = { ...process.env, SERVICE_ONLY_CANARY: 'x', ATTUNE__SECURITY__JWT_SECRET: 'jwt', LC_BOGUS: 'y', TZ: 'UTC' };
    const packDir = makePack(ENV_DUMP);
    const env = envOf((await run(makeRequest({ packDir, baseEnv: baseEnv(source) }))).result.stdout);
    expect(env).not.toHaveProperty('SERVICE_ONLY_CANARY');
    expect(env).not.toHaveProperty('ATTUNE__SECURITY__JWT_SECRET');
    expect(env).not.toHaveProperty('AGENT_PROCESS_CANARY');
    expect(env).not.toHaveProperty('LC_BOGUS');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.TZ).toBe('UTC');
    const allowed = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'PWD', 'SHLVL', '_', 'OLDPWD']);
    const foreign = Object.keys(env).filter((k) => !k.startsWith('ATTUNE_') && !k.startsWith('LC_') && !allowed.has(k));
    expect(foreign).toEqual([]);

    const passed = envOf((await run(makeRequest({ packDir, baseEnv: baseEnv(source, ['SERVICE_ONLY_CANARY']) }))).result.stdout);
    expect(passed.SERVICE_ONLY_CANARY).toBe('x');
  });

  it('applies execution env_vars but never lets them override ATTUNE_ names (§10 item 18)', async () => {
    const packDir = makePack(ENV_DUMP);
    const outcome = await run(makeRequest({ packDir, executionId: 77, envVars: { REGION: 'eu', ATTUNE_EXEC_ID: 'bad', ATTUNE_PARAMETER_FORMAT: 'x' } }));
    const env = envOf(outcome.result.stdout);
    expect(env.REGION).toBe('eu');
    expect(env.ATTUNE_EXEC_ID).toBe('77');
    expect(env.ATTUNE_PARAMETER_FORMAT).toBe('json');
  });

  it.each([
    ['a non-string value', { A: 1 }],
    ['an array', ['A=1']],
    ['a string', 'A=1'],
  ])('fails context preparation when env_vars is %s', async (_n, envVars) => {
    const outcome = await run(makeRequest({ packDir: makePack(ENV_DUMP), envVars }));
    expect(outcome).toMatchObject({ status: 'failed', phase: 'prepare', exitCode: null });
    expect(outcome.result).toEqual({
      succeeded: false,
      error: 'Failed to prepare execution context: Validation error: Execution env_vars must be an object with string values',
    });
  });

  it('resolves runtime env_vars templates with set/prepend/append and lets execution env_vars win (§10 item 19)', async () => {
    const packDir = makePack(ENV_DUMP);
    const outcome = await run(
      makeRequest({
        packDir,
        baseEnv: { ...baseEnv(), EXISTING: 'base' },
        runtimeConfig: {
          interpreter: { binary: '/bin/bash', args: [], file_extension: '.sh' },
          env_vars: {
            PLAIN: '{pack_dir}/x:{env_dir}:{interpreter}',
            EXISTING: { value: 'pre', operation: 'prepend', separator: ';' },
            PATH_LIKE: { value: 'tail', operation: 'append' },
            LOG_LEVEL: 'info',
            ATTUNE_EXEC_ID: 'runtime-bad',
          },
        },
        envVars: { LOG_LEVEL: 'debug' },
      }),
    );
    const env = envOf(outcome.result.stdout);
    expect(env.PLAIN).toBe(`${packDir}/x:{env_dir}:/bin/bash`); // no environment section → literal
    expect(env.EXISTING).toBe('pre;base');
    expect(env.PATH_LIKE).toBe('tail');
    expect(env.LOG_LEVEL).toBe('debug');
    expect(env.ATTUNE_EXEC_ID).not.toBe('runtime-bad');
  });

  it('uses the environment interpreter when the env dir provides it, with {env_dir} substituted', async () => {
    const envDir = tempDir('attune-envdir-');
    fs.mkdirSync(path.join(envDir, 'bin'));
    fs.symlinkSync('/bin/bash', path.join(envDir, 'bin', 'mysh'));
    const packDir = makePack({ 'act.sh': 'echo "bash=${BASH_VERSION:+yes} home=$TOOL_HOME"' });
    const config = {
      interpreter: { binary: '/bin/sh', args: [], file_extension: '.sh' },
      environment: { env_type: 'custom', dir_name: 'x', create_command: [], interpreter_path: '{env_dir}/bin/mysh' },
      env_vars: { TOOL_HOME: '{env_dir}/home' },
    };
    const withEnv = await run(makeRequest({ packDir, runtimeConfig: config, envDir }));
    expect(withEnv.result.stdout).toBe(`bash=yes home=${envDir}/home\n`);
    const missing = await run(makeRequest({ packDir, runtimeConfig: config, envDir: path.join(envDir, 'nope') }));
    expect(missing.status).toBe('completed');
    expect(String(missing.result.stdout).startsWith('bash= ')).toBe(fs.realpathSync('/bin/sh') !== fs.realpathSync('/bin/bash'));
  });

  it('fails with a setup error when the interpreter is not on the baseline PATH (§10 item 38)', async () => {
    const outcome = await run(
      makeRequest({
        packDir: makePack(ENV_DUMP),
        actionRef: 'demo.act',
        runtimeConfig: { interpreter: { binary: 'no-such-interpreter-x1', args: [], file_extension: '.sh' } },
      }),
    );
    expect(outcome).toMatchObject({ status: 'failed', phase: 'runtime' });
    expect(outcome.result).toEqual({
      succeeded: false,
      error: "Action execution failed: Internal error: Setup error: Interpreter 'no-such-interpreter-x1' is not available for action 'demo.act' on this worker",
    });
    const noPath = await run(makeRequest({ packDir: makePack(ENV_DUMP), baseEnv: { HOME: '/root' }, runtimeConfig: { interpreter: { binary: 'bash' } } }));
    expect(noPath.result.error).toContain("Setup error: Interpreter 'bash' is not available");
  });

  it('falls back to the parent runtime config when a version interpreter is missing', async () => {
    const outcome = await run(
      makeRequest({
        packDir: makePack({ 'act.sh': 'echo ok' }),
        runtimeConfig: { interpreter: { binary: '/nonexistent/bash9', file_extension: '.sh' } },
        fallbackRuntimeConfig: { interpreter: { binary: '/bin/bash', file_extension: '.sh' } },
      }),
    );
    expect(outcome.result.stdout).toBe('ok\n');
  });

  it('runs shell actions in the pack directory (§10 item 7)', async () => {
    const packDir = makePack({ 'act.sh': 'pwd' });
    expect((await run(makeRequest({ packDir }))).result.stdout).toBe(`${fs.realpathSync(packDir)}\n`);
  });
});

describe.skipIf(!HAS_PYTHON)('python runtime environment', () => {
  it('prepends {pack_dir}/lib to PYTHONPATH (§10 item 20)', async () => {
    const body = 'import os, json\nprint(json.dumps(os.environ.get("PYTHONPATH")))';
    const packDir = makePack({ 'act.py': body }, { 'lib/helper.py': 'X = 1\n' });
    const plain = await run(makeRequest({ packDir, entrypoint: 'act.py', runtimeName: 'python', outputFormat: 'json' }));
    expect(plain.result.data).toBe(`${packDir}/lib`);
    const withBase = await run(
      makeRequest({
        packDir,
        entrypoint: 'act.py',
        runtimeName: 'python',
        outputFormat: 'json',
        baseEnv: baseEnv({ ...process.env, PYTHONPATH: '/opt/x' }, ['PYTHONPATH']),
      }),
    );
    expect(withBase.result.data).toBe(`${packDir}/lib:/opt/x`);
  });
});
