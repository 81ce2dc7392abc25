import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bootstrapDetection } from '../../../src/detect/bootstrap';
import { createFakeBinDir, noFastPath, type FakeBinDir } from '../../support/fake-bin';

let bin: FakeBinDir;
beforeEach(() => {
  bin = createFakeBinDir();
  bin.add('python3', 'echo Python 3.12.1');
  bin.add('node', 'echo v20.11.0');
});
afterEach(() => {
  bin.remove();
});

function run(env: Record<string, string | undefined>) {
  return bootstrapDetection({ env, childEnv: { PATH: bin.dir }, fileExists: noFastPath });
}

describe('bootstrapDetection', () => {
  it('asks to set ATTUNE_WORKER_RUNTIMES to the detected names when it is unset', async () => {
    const env = { OTHER: 'x' };
    const result = await run(env);
    expect(result).toEqual({
      detected: [
        { name: 'python', path: `${bin.dir}/python3`, version: '3.12.1' },
        { name: 'node', path: `${bin.dir}/node`, version: '20.11.0' },
      ],
      setWorkerRuntimes: 'python,node',
      overrideSet: false,
      warnings: [],
    });
    expect(env).toEqual({ OTHER: 'x' });
  });

  it('treats an undefined value as unset', async () => {
    const result = await run({ ATTUNE_WORKER_RUNTIMES: undefined });
    expect(result.overrideSet).toBe(false);
    expect(result.setWorkerRuntimes).toBe('python,node');
  });

  it('warns and sets nothing when nothing is detected', async () => {
    bin.remove();
    const result = await run({});
    expect(result).toEqual({
      detected: null,
      setWorkerRuntimes: null,
      overrideSet: false,
      warnings: ['No runtimes detected! The agent may not be able to execute any work.'],
    });
  });

  it('filters by exact canonical name only: nodejs does not keep node', async () => {
    const env = { ATTUNE_WORKER_RUNTIMES: 'python,nodejs' };
    const result = await run(env);
    expect(result).toEqual({
      detected: [{ name: 'python', path: `${bin.dir}/python3`, version: '3.12.1' }],
      setWorkerRuntimes: null,
      overrideSet: true,
      warnings: [],
    });
    expect(env).toEqual({ ATTUNE_WORKER_RUNTIMES: 'python,nodejs' });
  });

  it('compares trimmed tokens case-insensitively', async () => {
    const result = await run({ ATTUNE_WORKER_RUNTIMES: ' NODE , Python ,ruby' });
    expect(result.detected?.map((r) => r.name)).toEqual(['python', 'node']);
    expect(result.setWorkerRuntimes).toBeNull();
  });

  it('keeps nothing when the override is empty, and says so', async () => {
    const result = await run({ ATTUNE_WORKER_RUNTIMES: '' });
    expect(result).toEqual({
      detected: null,
      setWorkerRuntimes: null,
      overrideSet: true,
      warnings: ['None of the override runtimes () were found on this system'],
    });
  });

  it('quotes the override value as given when none of it was found', async () => {
    const result = await run({ ATTUNE_WORKER_RUNTIMES: 'python3, bash' });
    expect(result.detected).toBeNull();
    expect(result.warnings).toEqual(['None of the override runtimes (python3, bash) were found on this system']);
  });
});
