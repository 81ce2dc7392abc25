import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { parsePackTestConfig } from '../../../src/worker/pack-test-config';
import { PACK_TEST_OUTPUT_CAP_BYTES, packTestEnv, runnerCommand, runPackTests } from '../../../src/worker/pack-test-runner';

const dir = mkdtempSync(join(tmpdir(), 'pack-test-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createSilentLogger();

function cfg(runners: Record<string, unknown>) {
  return parsePackTestConfig({ enabled: true, discovery: { method: 'x' }, runners });
}

describe('runPackTests (spec 07 §1.3)', () => {
  it('keeps the first 1 MiB of each stream and drains the rest', async () => {
    writeFileSync(join(dir, 'big.sh'), 'head -c 3000000 /dev/zero | tr "\\0" "a"\nhead -c 2000000 /dev/zero | tr "\\0" "b" >&2\necho "Total Tests: 1"\n');
    const r = await runPackTests({ packRef: 'p', packVersion: '1', packDir: dir, config: cfg({ big: { type: 'script', entry_point: 'big.sh' } }), python: null, log });
    const tc = r.testSuites[0]?.testCases[0];
    expect(tc?.stdout?.length).toBe(PACK_TEST_OUTPUT_CAP_BYTES);
    expect(tc?.stderr?.length).toBe(PACK_TEST_OUTPUT_CAP_BYTES);
    expect(tc?.status).toBe('passed');
  });

  it('an unsupported runner type, a missing entry point and the json format are suite errors; others still run', async () => {
    writeFileSync(join(dir, 'ok.sh'), 'echo "Total Tests: 2"; echo "Passed: 2"\n');
    const r = await runPackTests({
      packRef: 'p',
      packVersion: '1',
      packDir: dir,
      config: cfg({
        weird: { type: 'mocha', entry_point: 'ok.sh' },
        missing: { type: 'script', entry_point: 'nope.sh' },
        json: { type: 'script', entry_point: 'ok.sh', result_format: 'json' },
        ok: { type: 'script', entry_point: 'ok.sh' },
      }),
      python: null,
      log,
    });
    const byName = Object.fromEntries(r.testSuites.map((s) => [s.name, s]));
    expect(byName.weird?.testCases[0]).toMatchObject({ status: 'error', errorMessage: 'Unsupported runner type: mocha' });
    expect(byName.missing?.testCases[0]?.errorMessage).toMatch(/test_entry_point 'nope.sh'.*not found/);
    expect(byName.json?.testCases[0]?.errorMessage).toBe('JSON result format not yet implemented');
    expect(byName.ok).toMatchObject({ total: 2, passed: 2 });
    expect(r).toMatchObject({ totalTests: 5, passed: 2, failed: 3, status: 'failed' });
  });

  it('builds upstream commands and the cleared environment', () => {
    const run = (type: string, ep: string) => runnerCommand({ name: 'r', type, entryPoint: ep, timeoutSec: 1, resultFormat: 'simple', unknownResultFormat: null }, '/venv/bin/python');
    expect(run('script', 't/run.sh')).toEqual({ file: '/bin/sh', args: ['t/run.sh'] });
    expect(run('script', 't/run')).toEqual({ file: '/bin/bash', args: ['t/run'] });
    expect(run('unittest', 'tests')).toEqual({ file: '/venv/bin/python', args: ['-m', 'unittest', 'tests'] });
    expect(run('pytest', 'tests')).toEqual({ file: '/venv/bin/python', args: ['-m', 'pytest', 'tests', '-v'] });
    expect(packTestEnv('/p', '/venv/bin/python')).toEqual({ PATH: '/venv/bin:/usr/local/bin:/usr/bin:/bin', HOME: '/p', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    expect(packTestEnv('/p', null).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});
