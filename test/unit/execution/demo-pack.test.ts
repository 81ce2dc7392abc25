/** The shared test pack (test/fixtures/packs/demo-test) runs as its metadata says. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { resolveBuiltinRuntimeName } from '../../../src/execution/runtimes';
import type { ExecutionRequest } from '../../../src/execution/types';
import { HAS_BASH, HAS_NODE, HAS_PYTHON, makeRequest, run } from './helpers';

const PACK_DIR = path.resolve(__dirname, '../../fixtures/packs/demo-test');
const MARKER = { $attune_secret: true, redacted: true };

interface ActionMeta {
  ref: string;
  runner_type: string;
  entry_point: string;
  parameter_delivery?: string;
  parameter_format?: string;
  output_format?: string;
  parameters?: Record<string, { secret?: boolean }>;
  output?: unknown;
}

function loadAction(name: string): ActionMeta {
  return YAML.parse(fs.readFileSync(path.join(PACK_DIR, 'actions', `${name}.yaml`), 'utf8')) as ActionMeta;
}

function requestFor(name: string, parameters: Record<string, unknown>, extra: Partial<ExecutionRequest> = {}): ExecutionRequest {
  const meta = loadAction(name);
  const secretPaths = Object.entries(meta.parameters ?? {})
    .filter(([k, def]) => def.secret === true && k in parameters)
    .map(([k]) => `/${k}`);
  return makeRequest({
    packDir: PACK_DIR,
    actionRef: meta.ref,
    packRef: meta.ref.split('.')[0] as string,
    entrypoint: meta.entry_point,
    runtimeName: resolveBuiltinRuntimeName(meta.runner_type),
    parameterDelivery: meta.parameter_delivery ?? null,
    parameterFormat: meta.parameter_format ?? null,
    outputFormat: meta.output_format ?? null,
    outSchema: meta.output ?? null,
    parameters,
    secretParameterPaths: secretPaths,
    ...extra,
  });
}

describe('demo-test pack', () => {
  it('declares every action with upstream field names and an existing entry point', () => {
    const pack = YAML.parse(fs.readFileSync(path.join(PACK_DIR, 'pack.yaml'), 'utf8')) as { ref: string };
    const names = fs.readdirSync(path.join(PACK_DIR, 'actions')).filter((f) => f.endsWith('.yaml'));
    expect(names.sort()).toEqual(['echo.yaml', 'fail.yaml', 'java_file.yaml', 'node_json.yaml', 'perl_echo.yaml', 'py_json.yaml', 'secret.yaml', 'sleep.yaml']);
    for (const n of names) {
      const meta = loadAction(n.replace(/\.yaml$/, ''));
      expect(meta.ref.startsWith(`${pack.ref}.`)).toBe(true);
      expect(resolveBuiltinRuntimeName(meta.runner_type)).not.toBeNull();
      expect(fs.existsSync(path.join(PACK_DIR, 'actions', meta.entry_point))).toBe(true);
    }
  });

  it.skipIf(!HAS_BASH)('echo prints the message', async () => {
    const outcome = await run(requestFor('echo', { message: "it's a test" }));
    expect(outcome.result).toEqual({ exit_code: 0, duration_ms: expect.any(Number), succeeded: true, stdout: "it's a test\n" });
  });

  it.skipIf(!HAS_PYTHON)('py_json returns data', async () => {
    const outcome = await run(requestFor('py_json', { name: 'Ada', count: 2 }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result.data).toEqual({ greeting: 'hello Ada hello Ada', count: 2, delivery: 'stdin' });
  });

  it.skipIf(!HAS_NODE)('node_json reads its parameter file', async () => {
    const outcome = await run(requestFor('node_json', { numbers: [1, 2, 3.5] }, { executionId: 31337 }));
    expect(outcome.result.data).toEqual({ sum: 6.5, execution_id: '31337' });
  });

  it.skipIf(!HAS_BASH)('fail fails with its exit code and stderr', async () => {
    const outcome = await run(requestFor('fail', { code: 4 }));
    expect(outcome.result).toEqual({ succeeded: false, exit_code: 4, duration_ms: expect.any(Number), error: 'boom\n', stdout: 'partial\n' });
  });

  it.skipIf(!HAS_BASH)('sleep times out', async () => {
    const outcome = await run(requestFor('sleep', { seconds: 30 }, { timeoutSec: 1 }));
    expect(outcome.status).toBe('timeout');
  });

  it.skipIf(!HAS_PYTHON)('secret redacts the secret output field and stdout/error', async () => {
    const outcome = await run(requestFor('secret', { user: 'bob', token: 's3cr3t-value' }));
    expect(outcome.status).toBe('completed');
    expect(outcome.result.data).toEqual({ user: 'bob', token: MARKER, token_length: 12 });
    expect(outcome.redactedValues.map((v) => v.jsonPath)).toEqual(['/data/token']);
    expect(JSON.stringify(outcome.result)).not.toContain('s3cr3t-value');
  });
});
