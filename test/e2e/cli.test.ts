import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, runBundle } from '../support/cli';

const baseEnv = (): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ATTUNE')) delete env[k];
  return env;
};

describe('attune-agent CLI (built bundle)', () => {
  it('--version prints the name and version and exits 0', async () => {
    const r = await runBundle(['--version'], { env: baseEnv() });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^attune-agent \d+\.\d+\.\d+/);
    expect(r.stderr).toBe('');
  });

  it('start-up loads none of the Node modules only pack archives or unused metrics parts need', async () => {
    // Issue 18 (idle RSS): node-tar (zlib) loads on the first pack archive, prom-client's
    // Pushgateway (https, tls, zlib) never. A preload records what Node loaded when the agent exits.
    const dir = mkdtempSync(join(tmpdir(), 'attune-cli-modules-'));
    const list = join(dir, 'modules.txt');
    const preload = join(dir, 'record.cjs');
    writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['-r', preload, BUNDLE, 'detect', '--json'], { env: baseEnv(), encoding: 'utf8' });
    expect(r.status).toBe(0);
    const loaded = new Set((await import('node:fs')).readFileSync(list, 'utf8').split('\n'));
    expect(loaded.has('NativeModule child_process')).toBe(true); // the preload saw the agent's own work
    for (const m of ['zlib', 'https', 'tls']) expect(loaded.has(`NativeModule ${m}`), m).toBe(false);
  });

  it('--help lists the commands and exits 0', async () => {
    const r = await runBundle(['--help'], { env: baseEnv() });
    expect(r.code).toBe(0);
    for (const word of ['run', 'detect', 'exec', 'install', 'wait', '--config', '--name', '--log-level', '--detect-only']) {
      expect(r.stdout).toContain(word);
    }
  });

  it('a reader that closes the pipe early (`--help | head -1`) does not crash the agent', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BUNDLE, '--help'], { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Our end is closed before the agent writes anything (as after `head -1` has its line), so
    // every write of the help text meets EPIPE.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  });

  it('an unknown flag is a usage error: exit 2 with a message', async () => {
    const r = await runBundle(['--bogus'], { env: baseEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it('detect --json prints the stable schema with at least shell, python and node', async () => {
    const r = await runBundle(['detect', '--json'], { env: baseEnv() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      runtimes: { name: string; path: string; version: string | null }[];
      worker_runtimes: string | null;
      duration_ms: number;
    };
    const names = doc.runtimes.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['shell', 'python', 'node']));
    for (const rt of doc.runtimes) {
      expect(rt.path.startsWith('/')).toBe(true);
      expect(rt.version === null || /^\d+\.\d+/.test(rt.version)).toBe(true);
    }
    expect(typeof doc.duration_ms).toBe('number');
  });

  it('--detect-only prints the upstream report and exits 0', async () => {
    const r = await runBundle(['--detect-only'], { env: baseEnv() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('=== Attune Agent Runtime Detection Report ===');
    expect(r.stdout).toMatch(/ATTUNE_WORKER_RUNTIMES=shell,python,node/);
  });

  it('detect prints its warnings on stderr, and nothing there without one', async () => {
    const quiet = await runBundle(['detect', '--json'], { env: baseEnv() });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    // The logger is built only for a warning (cli.ts detectCommand): a config warning and a
    // detection warning both still reach stderr, and stdout stays the JSON document.
    const r = await runBundle(['detect', '--json'], {
      env: { ...baseEnv(), ATTUNE_CONFIG: '/nonexistent/attune.yaml', ATTUNE_WORKER_RUNTIMES: 'cobol' },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('/nonexistent/attune.yaml, which does not exist');
    expect(r.stderr).toContain('None of the override runtimes (cobol) were found on this system');
    expect(JSON.parse(r.stdout).override).toBe(true);
  });

  it('a bad config value exits 1 naming the key and the value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'worker:\n  max_concurrent_tasks: lots\n');
    const r = await runBundle(['-c', cfg, 'detect'], { env: baseEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('worker.max_concurrent_tasks');
    expect(r.stderr).toContain('"lots"');
    expect(r.stderr).toContain(cfg);
  });

  it('a secret in a bad config value is never printed', async () => {
    const r = await runBundle(['detect'], {
      env: { ...baseEnv(), ATTUNE__SECURITY__ENCRYPTION_KEY: 'canary-too-short' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('security.encryption_key');
    expect(r.stderr + r.stdout).not.toContain('canary-too-short');
  });
});
