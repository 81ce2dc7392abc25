import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearRuntimeEnvironmentFailures } from '../../../src/envs';
import { runExecCommand, type LocalRunConfig } from '../../../src/local';
import { createSilentLogger } from '../../../src/log';

const PACKS = resolve(__dirname, '../../fixtures/packs');
let root: string;
let config: LocalRunConfig;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'local-exec-'));
  config = {
    runtimeEnvsDir: join(root, 'runtime_envs'),
    artifactsDir: join(root, 'artifacts'),
    defaultExecutionTimeoutSec: 600,
    server: { host: '0.0.0.0', port: 8080 },
    worker: { passthroughEnv: [], maxStdoutBytes: 10 * 1024 * 1024, maxStderrBytes: 10 * 1024 * 1024 },
  };
  clearRuntimeEnvironmentFailures();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

interface ExecOutput {
  action: string;
  status: string;
  result: Record<string, unknown>;
}

async function exec(target: string, opts: { params?: string[]; paramsFile?: string; timeoutSec?: number } = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runExecCommand({
    target,
    params: opts.params ?? [],
    paramsFile: opts.paramsFile,
    packsDir: PACKS,
    timeoutSec: opts.timeoutSec,
    config,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', SECRET_AGENT_VAR: 'nope' },
    cwd: root,
    stdout: stdout.stream,
    stderr: stderr.stream,
    log: createSilentLogger(),
  });
  const out = stdout.text();
  return { code, out, err: stderr.text(), json: out ? (JSON.parse(out) as ExecOutput) : null };
}

describe('attune-agent exec (runExecCommand) against the demo-test pack', () => {
  it('runs a shell action with its parameter default and exits 0', async () => {
    const r = await exec('demo_test.echo');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ action: 'demo_test.echo', status: 'completed', result: { succeeded: true, exit_code: 0, stdout: 'hello\n' } });
    expect(r.out.endsWith('}\n')).toBe(true);
    expect(r.out).toContain('\n  "status": "completed"'); // pretty-printed
  });

  it('passes --param values (a string with spaces and quotes) through dotenv', async () => {
    const r = await exec('demo_test.echo', { params: ["message=it's a test"] });
    expect(r.json?.result.stdout).toBe("it's a test\n");
  });

  it('runs a python action in its runtime environment with a params file and --param override', async () => {
    const file = join(root, 'py.json');
    writeFileSync(file, JSON.stringify({ name: 'file', count: 1 }));
    const r = await exec('demo_test.py_json', { paramsFile: file, params: ['count=2'] });
    expect(r.code).toBe(0);
    expect(r.json?.result.data).toEqual({ greeting: 'hello file hello file', count: 2, delivery: 'stdin' });
    expect(r.err).toContain('starting'); // the action's stderr is mirrored live
    expect(existsSync(join(config.runtimeEnvsDir, 'demo_test', 'python', 'bin', 'python3'))).toBe(true);
  }, 60_000);

  it('runs a node action with file delivery and a JSON-array --param', async () => {
    const r = await exec('demo_test.node_json', { params: ['numbers=[1,2,3,4]'] });
    expect(r.code).toBe(0);
    expect(r.json?.result.data).toEqual({ sum: 10, execution_id: '0' });
  }, 60_000);

  it('exits 1 with the failed result when the action fails', async () => {
    const r = await exec('demo_test.fail', { params: ['code=4'] });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ status: 'failed', result: { succeeded: false, exit_code: 4, error: 'boom\n', stdout: 'partial\n' } });
    expect(r.err).toContain('boom');
  });

  it('applies --timeout and reports status timeout', async () => {
    const r = await exec('demo_test.sleep', { params: ['seconds=20'], timeoutSec: 1 });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ status: 'timeout', result: { timed_out: true, exit_code: -1, error: 'Execution timed out after 1 seconds' } });
  }, 30_000);

  it('redacts secret output like the platform does for secret parameters', async () => {
    const r = await exec('demo_test.secret', { params: ['token=s3cr3t'] });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('s3cr3t');
    expect(r.json?.result.data).toMatchObject({ user: 'alice', token_length: 6, token: { $attune_secret: true, redacted: true } });
  }, 60_000);

  it('refuses a missing required parameter before anything runs (exit 2)', async () => {
    const fresh = join(root, 'fresh-envs');
    const saved = config;
    config = { ...config, runtimeEnvsDir: fresh };
    try {
      const r = await exec('demo_test.secret');
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe("Error: Action 'demo_test.secret' requires parameter 'token' (missing; pass --param token=...)\n");
      expect(existsSync(fresh)).toBe(false); // no environment setup either
    } finally {
      config = saved;
    }
  });

  it('reports bad --param syntax as a usage error (exit 2)', async () => {
    const r = await exec('demo_test.echo', { params: ['oops'] });
    expect(r.code).toBe(2);
    expect(r.err).toBe("Error: Invalid --param 'oops': expected key=value\n");
    expect(r.out).toBe('');
  });

  it('names the available actions when the action is unknown (exit 1)', async () => {
    const r = await exec('demo_test.missing');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^Error: Action 'demo_test\.missing' not found in pack 'demo_test' .*available actions: .*demo_test\.echo/);
  });

  it('does not leak the caller’s non-baseline environment into the action', async () => {
    const dir = mkdtempSync(join(root, 'envpack-'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'envpack', 'actions'), { recursive: true });
    writeFileSync(join(dir, 'envpack', 'pack.yaml'), 'ref: envpack\n');
    writeFileSync(join(dir, 'envpack', 'actions', 'env.yaml'), 'ref: envpack.env\nrunner_type: shell\nentry_point: env.sh\n');
    writeFileSync(join(dir, 'envpack', 'actions', 'env.sh'), 'env | sort\n');
    const stdout = capture();
    const code = await runExecCommand({
      target: join(dir, 'envpack', 'actions', 'env.yaml'),
      params: [],
      config,
      env: { PATH: process.env.PATH, SECRET_AGENT_VAR: 'nope' },
      cwd: root,
      stdout: stdout.stream,
      stderr: capture().stream,
      log: createSilentLogger(),
    });
    expect(code).toBe(0);
    const printed = String((JSON.parse(stdout.text()) as ExecOutput).result.stdout);
    expect(printed).toContain('ATTUNE_ACTION=envpack.env');
    expect(printed).toContain(`ATTUNE_RUNTIME_ENVS_DIR=${config.runtimeEnvsDir}`);
    expect(printed).toContain('ATTUNE_API_URL=http://127.0.0.1:8080');
    expect(printed).not.toContain('SECRET_AGENT_VAR');
  });
});
