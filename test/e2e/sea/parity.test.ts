/**
 * The single executable must behave exactly like `node dist/attune-agent.cjs` (same CLI, same
 * output, same exit codes), print no ExperimentalWarning and ignore NODE_OPTIONS
 * (sea-config.json: disableExperimentalSEAWarning, execArgvExtension "none"; spec 05 §11).
 *
 * Both run on this host in the same private mount namespace, with the bundle bind-mounted
 * read-only at /opt/attune/agent (its fixed install path), so only the packaging differs.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  REPO_ROOT, ensurePlainBundle, ensureSeaBuilt, runInAgentNamespace, runSeaOnHost, type RunResult, type SeaBuild,
} from '../../support/sea';

const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

describe('SEA vs node dist/attune-agent.cjs on this host', () => {
  let build: SeaBuild;
  let plain: string;
  const scratch: string[] = [];
  // A controlled environment: the same for both, free of the test runner's NODE_OPTIONS etc.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C' };

  beforeAll(async () => {
    build = await ensureSeaBuilt('x64');
    plain = await ensurePlainBundle();
  });
  afterAll(() => {
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  const sea = (args: string[], extraEnv: Record<string, string> = {}): RunResult =>
    runSeaOnHost(build, args, { env: { ...env, ...extraEnv } });
  const node = (args: string[], extraEnv: Record<string, string> = {}): RunResult =>
    runInAgentNamespace(build, process.execPath, [plain, ...args], { env: { ...env, ...extraEnv } });

  it('prints the same --version line, exits 0 and writes nothing to stderr (no ExperimentalWarning)', () => {
    const s = sea(['--version']);
    const n = node(['--version']);
    expect(s).toMatchObject({ status: 0, stderr: '' });
    expect(s.stdout).toBe(`attune-agent ${VERSION}\n`);
    expect(s.stdout).toBe(n.stdout);
  });

  it('prints the same --help text', () => {
    const s = sea(['--help']);
    const n = node(['--help']);
    expect(s.status).toBe(0);
    expect(s.stdout).toContain('Usage: attune-agent');
    expect(s.stdout).toBe(n.stdout);
    expect(s.stderr).toBe(n.stderr);
  });

  it('rejects an unknown option with the same message and exit code 2', () => {
    const s = sea(['--no-such-option']);
    const n = node(['--no-such-option']);
    expect(s.status).toBe(2);
    expect(n.status).toBe(2);
    expect(s.stderr).toBe(n.stderr);
    expect(s.stderr).toMatch(/unknown option/);
  });

  it('detects the same interpreters with `detect --json`', () => {
    const s = sea(['detect', '--json']);
    const n = node(['detect', '--json']);
    expect(s.status).toBe(0);
    expect(n.status).toBe(0);
    const sj = JSON.parse(s.stdout) as { runtimes: unknown[]; duration_ms: number };
    const nj = JSON.parse(n.stdout) as { runtimes: unknown[]; duration_ms: number };
    expect(sj.runtimes.length).toBeGreaterThan(0);
    expect({ ...sj, duration_ms: 0 }).toEqual({ ...nj, duration_ms: 0 });
  });

  it('ignores NODE_OPTIONS from the environment, which plain node would apply', () => {
    const poison = { NODE_OPTIONS: '--require /nonexistent/attune-preload.js' };
    const n = node(['--version'], poison);
    expect(n.status, 'plain node honours NODE_OPTIONS and fails on the missing preload').not.toBe(0);
    expect(n.stderr).toContain('attune-preload.js');
    const s = sea(['--version'], poison);
    expect(s).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n`, stderr: '' });
  });

  it('`install --to DIR` copies the running executable and its lib/ byte for byte', () => {
    const dest = mkdtempSync(join(tmpdir(), 'attune-sea-install-'));
    scratch.push(dest);
    const r = sea(['install', '--to', join(dest, 'agent-bin')]);
    expect(r.status, r.stderr).toBe(0);
    const out = join(dest, 'agent-bin');
    const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(digest(join(out, 'attune-agent'))).toBe(digest(build.binary));
    expect(statSync(join(out, 'attune-agent')).mode & 0o111).toBe(0o111);
    for (const f of readdirSync(build.libDir).filter((n) => n !== 'licenses')) {
      expect(digest(join(out, 'lib', f)), f).toBe(digest(join(build.libDir, f)));
    }
  });
});
