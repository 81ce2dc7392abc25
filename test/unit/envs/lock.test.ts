import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock, LockWaitError, withKeyedMutex } from '../../../src/envs/lock';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'envlock-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const settledWithin = <T>(p: Promise<T>, ms: number): Promise<boolean> =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(child.stdout.toString().trim());
}

function writeForeignLock(path: string, owner: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify({ token: 'foreign', createdAt: new Date().toISOString(), ...owner }));
}

describe('withKeyedMutex', () => {
  it('runs callers with the same key one after another and different keys in parallel', async () => {
    const events: string[] = [];
    const job = (key: string, name: string) =>
      withKeyedMutex(key, async () => {
        events.push(`${name}:start`);
        await new Promise((r) => setTimeout(r, 50));
        events.push(`${name}:end`);
      });
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')]);
    expect(events.indexOf('a1:end')).toBeLessThan(events.indexOf('a2:start'));
    expect(events.indexOf('b1:start')).toBeLessThan(events.indexOf('a1:end'));
  });
});

describe('acquireFileLock', () => {
  it('makes a second acquirer wait until the holder releases', async () => {
    const path = join(root, 'env.lock');
    const first = await acquireFileLock(path, { waitTimeoutMs: 5000, pollMs: 20 });
    const second = acquireFileLock(path, { waitTimeoutMs: 5000, pollMs: 20 });
    expect(await settledWithin(second, 200)).toBe(false);
    await first.release();
    const handle = await second;
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await handle.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose holder PID is gone in the same PID namespace', async () => {
    const path = join(root, 'env.lock');
    writeForeignLock(path, { pid: deadPid(), host: hostname(), pidns: readlinkSync('/proc/self/ns/pid') });
    const handle = await acquireFileLock(path, { waitTimeoutMs: 0, pollMs: 20 });
    expect(JSON.parse(readFileSync(path, 'utf8')).token).not.toBe('foreign');
    await handle.release();
  });

  it('does not judge a PID from another host or namespace, only the lock age', async () => {
    const path = join(root, 'env.lock');
    writeForeignLock(path, { pid: deadPid(), host: 'other-container', pidns: 'pid:[1]' });
    await expect(acquireFileLock(path, { waitTimeoutMs: 150, pollMs: 20, staleMs: 60_000 })).rejects.toThrow(
      /Timed out after 0 s waiting for lock .*env\.lock \(held by pid \d+ on other-container/,
    );
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    const handle = await acquireFileLock(path, { waitTimeoutMs: 0, pollMs: 20, staleMs: 60_000 });
    await handle.release();
  });

  it('keeps a held lock fresh so it is never judged stale by age', async () => {
    const path = join(root, 'env.lock');
    const held = await acquireFileLock(path, { waitTimeoutMs: 1000, staleMs: 200 });
    await new Promise((r) => setTimeout(r, 400));
    await expect(acquireFileLock(path, { waitTimeoutMs: 100, pollMs: 20, staleMs: 200 })).rejects.toBeInstanceOf(LockWaitError);
    await held.release();
  });

  it('does not delete a lock that another process took over', async () => {
    const path = join(root, 'env.lock');
    const handle = await acquireFileLock(path, { waitTimeoutMs: 1000 });
    writeForeignLock(path, { pid: 1, host: 'x' });
    await handle.release();
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('foreign');
  });

  it('stops waiting when aborted', async () => {
    const path = join(root, 'env.lock');
    const held = await acquireFileLock(path, { waitTimeoutMs: 1000 });
    const ac = new AbortController();
    const waiting = acquireFileLock(path, { waitTimeoutMs: 10_000, pollMs: 20, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(waiting).rejects.toMatchObject({ aborted: true });
    await held.release();
  });
});

describe('ensureRuntimeEnvironment across processes', () => {
  it('runs the create command once when two agent processes share runtime_envs_dir', async () => {
    // Bundle a tiny driver around the real module and run it in two separate Node processes.
    const driver = join(root, 'driver.cjs');
    await build({
      stdin: {
        contents: `
          import { ensureRuntimeEnvironment } from './src/envs/ensure';
          const args = JSON.parse(process.argv[2]);
          const log: any = { info() {}, warn() {}, debug() {}, error() {}, child() { return log; } };
          ensureRuntimeEnvironment({ ...args, log }).then((r) => process.stdout.write(JSON.stringify(r)));
        `,
        resolveDir: resolve(__dirname, '../../..'),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: driver,
      logLevel: 'silent',
    });
    const packDir = join(root, 'pack');
    mkdirSync(packDir);
    const counter = join(root, 'count');
    const args = {
      envDir: join(root, 'envs', 'p', 'fake'),
      packDir,
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      runtimeConfig: {
        environment: {
          env_type: 'fake',
          create_command: ['sh', '-c', `echo run >> ${counter}; sleep 0.5; mkdir -p "$0"`, '{env_dir}'],
        },
      },
    };
    const run = () =>
      new Promise<string>((resolvePromise, reject) => {
        const child = spawn(process.execPath, [driver, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('error', reject);
        child.on('close', () => resolvePromise(out));
      });
    const results = (await Promise.all([run(), run()])).map((s) => JSON.parse(s) as { ok: boolean; status: string });
    expect(readFileSync(counter, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    expect(results.map((r) => r.status).sort()).toEqual(['created', 'ready']);
  }, 30_000);
});
