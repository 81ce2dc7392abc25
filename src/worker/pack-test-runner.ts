/**
 * Running a pack's test suites (spec 07 §1.3, upstream `test_executor.rs`): one child per
 * runner, cwd = pack dir, a cleared environment (PATH, HOME, LANG, LC_ALL only — service
 * secrets are never inherited), stdin /dev/null, own process group killed with SIGKILL on
 * timeout, stdout/stderr each capped at 1 MiB. Per-suite failures become results.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { Logger } from '../log';
import { toError } from '../errors';
import {
  aggregatePackTestResult,
  parseSimpleOutput,
  suiteError,
  type PackTestConfig,
  type PackTestResult,
  type PackTestRunner,
  type TestSuiteResult,
} from './pack-test-config';

/** spec 07 §1.3: each stream keeps its first 1 MiB; the rest is drained and dropped. */
export const PACK_TEST_OUTPUT_CAP_BYTES = 1_048_576;
const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';

export interface RunPackTestsOptions {
  packRef: string;
  packVersion: string;
  packDir: string;
  config: PackTestConfig;
  /** Prepared interpreter for unittest/pytest (§1.7); null → `python3`. */
  python: string | null;
  log: Logger;
}

export async function runPackTests(opts: RunPackTestsOptions): Promise<PackTestResult> {
  const started = new Date();
  const t0 = Date.now();
  const suites: TestSuiteResult[] = [];
  for (const runner of opts.config.runners) {
    if (runner.unknownResultFormat !== null) {
      opts.log.warn({ runner: runner.name, resultFormat: runner.unknownResultFormat }, 'unknown pack test result_format; using simple');
    }
    try {
      suites.push(await runSuite(runner, opts));
    } catch (e) {
      suites.push(suiteError(runner, toError(e).message));
    }
  }
  return aggregatePackTestResult({ packRef: opts.packRef, packVersion: opts.packVersion, executionTime: started, durationMs: Date.now() - t0, suites });
}

/** The command of one runner; throws for an unsupported type. */
export function runnerCommand(runner: PackTestRunner, python: string | null): { file: string; args: string[] } {
  const py = python ?? 'python3';
  switch (runner.type) {
    case 'script':
      return { file: extname(runner.entryPoint) === '.sh' ? '/bin/sh' : '/bin/bash', args: [runner.entryPoint] };
    case 'unittest':
      return { file: py, args: ['-m', 'unittest', runner.entryPoint] };
    case 'pytest':
      return { file: py, args: ['-m', 'pytest', runner.entryPoint, '-v'] };
    default:
      throw new Error(`Unsupported runner type: ${runner.type}`);
  }
}

/** spec 07 §1.3: the only variables a test child sees. */
export function packTestEnv(packDir: string, python: string | null): Record<string, string> {
  const pathPrefix = python !== null && python.includes('/') ? `${dirname(python)}:` : '';
  return { PATH: `${pathPrefix}${BASE_PATH}`, HOME: packDir, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
}

async function runSuite(runner: PackTestRunner, opts: RunPackTestsOptions): Promise<TestSuiteResult> {
  if (!existsSync(join(opts.packDir, runner.entryPoint))) {
    throw new Error(`test_entry_point '${runner.entryPoint}' for runner '${runner.name}' not found in ${opts.packDir}`);
  }
  const cmd = runnerCommand(runner, opts.python);
  if (runner.resultFormat === 'json') throw new Error('JSON result format not yet implemented');
  const t0 = Date.now();
  const out = await runCapped(cmd.file, cmd.args, { cwd: opts.packDir, env: packTestEnv(opts.packDir, opts.python), timeoutMs: runner.timeoutSec * 1000 });
  return parseSimpleOutput(runner, { ...out, durationMs: Date.now() - t0 });
}

interface CappedOutput {
  stdout: string;
  stderr: string;
  /** −1 when a signal ended the process. */
  exitCode: number;
}

function collector(): { push(b: Buffer): void; text(): string } {
  const parts: Buffer[] = [];
  let kept = 0;
  return {
    push(b) {
      if (kept >= PACK_TEST_OUTPUT_CAP_BYTES) return;
      const take = b.subarray(0, PACK_TEST_OUTPUT_CAP_BYTES - kept);
      parts.push(take);
      kept += take.length;
    },
    text: () => Buffer.concat(parts).toString('utf8'),
  };
}

function runCapped(file: string, args: string[], o: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<CappedOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    const out = collector();
    const err = collector();
    let timedOut = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, o.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`Failed to start test runner ${file}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Grandchildren may outlive the runner: the group goes with it, as upstream kills it on drop.
      killGroup();
      if (timedOut) {
        reject(new Error(`Test execution timed out after ${Math.round(o.timeoutMs / 1000)} seconds`));
        return;
      }
      resolve({ stdout: out.text(), stderr: err.text(), exitCode: signal !== null ? -1 : (code ?? -1) });
    });
  });
}
