import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runBundle } from '../support/cli';

const PACKS = join(ROOT, 'test', 'fixtures', 'packs');
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function env(): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = { ...process.env, ATTUNE__RUNTIME_ENVS_DIR: mkdtempSync(join(tmpdir(), 'exec-envs-')) };
  for (const k of Object.keys(e)) if (k.startsWith('ATTUNE_') && k !== 'ATTUNE__RUNTIME_ENVS_DIR') delete e[k];
  return e;
}

async function exec(args: string[]) {
  const r = await runBundle(['exec', ...args, '--packs-dir', PACKS], { env: env(), timeoutMs: 60_000 });
  const doc = r.stdout.trim() ? (JSON.parse(r.stdout) as { status: string; result: Record<string, unknown> }) : null;
  return { ...r, doc };
}

// spec 03 §10 examples, through `attune-agent exec` and the real interpreters of this machine.
describe('attune-agent exec runs every runtime of the test pack', () => {
  it('shell: dotenv on stdin, text output', async () => {
    const r = await exec(['demo_test.echo', '-p', "message=it's here"]);
    expect(r.code).toBe(0);
    expect(r.doc?.status).toBe('completed');
    expect(r.doc?.result).toMatchObject({ exit_code: 0, succeeded: true, stdout: "it's here\n" });
  });

  it.skipIf(!has('python3'))('python: json on stdin, json output parsed into data', async () => {
    const r = await exec(['demo_test.py_json', '-p', 'name=Ada', '-p', 'count=2']);
    expect(r.code).toBe(0);
    const data = r.doc?.result.data as Record<string, unknown>;
    expect(data.delivery).toBe('stdin');
    expect(r.doc?.result.stdout).toBeUndefined();
  });

  it.skipIf(!has('node'))('node: json in a parameter file', async () => {
    const r = await exec(['demo_test.node_json', '-p', 'numbers=[1,2,3,4]']);
    expect(r.code).toBe(0);
    expect(r.doc?.result.data).toMatchObject({ sum: 10 });
  });

  it.skipIf(!has('perl'))('perl: yaml on stdin, yaml output', async () => {
    const r = await exec(['demo_test.perl_echo', '-p', 'word=dromedary']);
    expect(r.code).toBe(0);
    expect(r.doc?.result.data).toMatchObject({ word: 'dromedary', length: 9 });
  });

  it.skipIf(!has('java'))('java: single-file source with a parameter file', async () => {
    const r = await exec(['demo_test.java_file']);
    expect(r.code).toBe(0);
    expect(r.doc?.result.data).toMatchObject({ has_greeting: true, execution_id: '0' });
  });

  it('a failing action exits 1 with status failed and stderr as the error', async () => {
    const r = await exec(['demo_test.fail', '-p', 'code=4']);
    expect(r.code).toBe(1);
    expect(r.doc?.status).toBe('failed');
    expect(r.doc?.result).toMatchObject({ succeeded: false, exit_code: 4 });
  });

  it('a timeout kills the action and reports timeout', async () => {
    const r = await exec(['demo_test.sleep', '-p', 'seconds=30', '--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.doc?.status).toBe('timeout');
    expect(r.doc?.result).toMatchObject({ timed_out: true, exit_code: -1, error: 'Execution timed out after 1 seconds' });
    expect(r.durationMs).toBeLessThan(15_000);
  });

  it('a secret parameter reaches the action but not the printed result', async () => {
    const canary = 'canary-secret-4f1d2e';
    const r = await exec(['demo_test.secret', '-p', `token=${canary}`]);
    expect(r.code).toBe(0);
    expect(r.doc?.result.data).toMatchObject({ token_length: canary.length });
    expect(r.stdout + r.stderr).not.toContain(canary);
  });

  it('a missing required parameter is refused before anything runs', async () => {
    const r = await exec(['demo_test.secret']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('token');
  });

  it('an unknown action names the actions the pack has', async () => {
    const r = await exec(['demo_test.nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('demo_test.echo');
  });
});
