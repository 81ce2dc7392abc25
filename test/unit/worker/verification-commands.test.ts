import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  detectAvailableRuntimeNames,
  parseVerificationCommands,
  runVerificationCommand,
} from '../../../src/worker/verification-commands';
import { buildVerifiedRuntimeVersions, compareVersions, runtimeBaseName } from '../../../src/worker/version-verify';

let binDir: string;
let env: Record<string, string>;

function addBin(name: string, body: string): void {
  const path = join(binDir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(() => {
  binDir = mkdtempSync(join(tmpdir(), 'attune-verify-'));
  // Only the fake dir on PATH: probes must not find the machine's real interpreters.
  env = { PATH: binDir };
  addBin('fakepy', 'echo "Python 3.12.7"');
  addBin('fakepy-stderr', 'echo "Python 3.11.2" >&2');
  addBin('exit3', 'exit 3');
  addBin('hang', 'exec /bin/sleep 30');
  addBin('printenv-secret', 'if [ -n "$DB_PASSWORD" ]; then echo leaked; fi; echo ok');
});

afterAll(() => {
  rmSync(binDir, { recursive: true, force: true });
});

describe('parseVerificationCommands', () => {
  it('sorts by priority (stable), applies defaults and drops entries without a binary', () => {
    const cmds = parseVerificationCommands(
      {
        verification: {
          commands: [
            { binary: 'b', args: ['--version'], priority: 2 },
            { binary: 'a', pattern: 'x', exit_code: 1 },
            { args: ['no-binary'] },
            { binary: 'c', priority: 1 },
          ],
        },
      },
      100,
    );
    expect(cmds.map((c) => c.binary)).toEqual(['c', 'b', 'a']);
    expect(cmds[2]).toEqual({ binary: 'a', args: [], exitCode: 1, pattern: 'x', priority: 100 });
  });

  it('returns [] for missing or malformed distributions', () => {
    expect(parseVerificationCommands(null, 1)).toEqual([]);
    expect(parseVerificationCommands({ verification: { commands: 'x' } }, 1)).toEqual([]);
  });
});

describe('runVerificationCommand', () => {
  const opts = () => ({ env, timeoutMs: 5000 });

  it('succeeds when the exit code matches and the pattern matches stdout', async () => {
    expect(await runVerificationCommand({ binary: 'fakepy', args: [], exitCode: 0, pattern: 'Python 3\\.12\\.', priority: 1 }, opts())).toBe(true);
  });

  it('matches the pattern against stderr too', async () => {
    expect(await runVerificationCommand({ binary: 'fakepy-stderr', args: [], exitCode: 0, pattern: 'Python 3\\.11\\.', priority: 1 }, opts())).toBe(true);
  });

  it('fails on a non-matching pattern, a wrong exit code, a missing binary or an invalid regex', async () => {
    expect(await runVerificationCommand({ binary: 'fakepy', args: [], exitCode: 0, pattern: 'Python 2', priority: 1 }, opts())).toBe(false);
    expect(await runVerificationCommand({ binary: 'exit3', args: [], exitCode: 0, pattern: null, priority: 1 }, opts())).toBe(false);
    expect(await runVerificationCommand({ binary: 'exit3', args: [], exitCode: 3, pattern: null, priority: 1 }, opts())).toBe(true);
    expect(await runVerificationCommand({ binary: 'nope-not-here', args: [], exitCode: 0, pattern: null, priority: 1 }, opts())).toBe(false);
    expect(await runVerificationCommand({ binary: 'fakepy', args: [], exitCode: 0, pattern: '(', priority: 1 }, opts())).toBe(false);
  });

  it('kills a hanging probe at the timeout and reports failure', async () => {
    const started = Date.now();
    expect(await runVerificationCommand({ binary: 'hang', args: [], exitCode: 0, pattern: null, priority: 1 }, { env, timeoutMs: 200 })).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs probes with only the given environment', async () => {
    const prev = process.env.DB_PASSWORD;
    process.env.DB_PASSWORD = 'hunter2';
    try {
      expect(
        await runVerificationCommand({ binary: 'printenv-secret', args: [], exitCode: 0, pattern: '^ok', priority: 1 }, opts()),
      ).toBe(true);
    } finally {
      if (prev === undefined) delete process.env.DB_PASSWORD;
      else process.env.DB_PASSWORD = prev;
    }
  });
});

describe('detectAvailableRuntimeNames (capability tier 3)', () => {
  it('returns lower-cased names of always-available, check-free and verified runtimes in input order', async () => {
    const names = await detectAvailableRuntimeNames(
      [
        { name: 'Go', distributions: { verification: { commands: [{ binary: 'missing-go', args: ['version'] }] } } },
        { name: 'Native', distributions: { verification: { always_available: true, check_required: false } } },
        { name: 'Python', distributions: { verification: { commands: [{ binary: 'fakepy', pattern: 'Python 3\\.', priority: 1 }] } } },
        { name: 'Legacy', distributions: { verification: { check_required: false } } },
        { name: 'Empty', distributions: {} },
      ],
      { childEnv: env },
    );
    expect(names).toEqual(['native', 'python', 'legacy']);
  });
});

describe('version helpers', () => {
  it('takes the last segment of runtime_ref as base name', () => {
    expect(runtimeBaseName('core.nodejs')).toBe('nodejs');
    expect(runtimeBaseName('Python')).toBe('python');
  });

  it('compares versions numerically and leniently', () => {
    expect(compareVersions('3.10', '3.9')).toBeGreaterThan(0);
    expect(compareVersions('v20.1.0', '20.1')).toBe(0);
    expect(compareVersions('18', '22')).toBeLessThan(0);
  });

  it('builds runtime_versions from available results only, newest first, names normalised', () => {
    const results = [
      { id: 1, runtimeRef: 'core.nodejs', version: '18', available: true, recorded: true },
      { id: 2, runtimeRef: 'core.nodejs', version: '22', available: true, recorded: true },
      { id: 3, runtimeRef: 'core.nodejs', version: '20', available: false, recorded: true },
      { id: 4, runtimeRef: 'core.python', version: '3.9', available: true, recorded: true },
      { id: 5, runtimeRef: 'core.python', version: '3.12', available: true, recorded: true },
    ];
    expect(buildVerifiedRuntimeVersions(results)).toEqual({ node: ['22', '18'], python: ['3.12', '3.9'] });
  });
});
