/** Shared fixtures for the engine tests: temp packs, requests, interpreter detection. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll } from 'vitest';
import { captureChildBaseEnv, type EnvMap } from '../../../src/execution/child-env';
import { runExecution } from '../../../src/execution/execute';
import type { ExecutionDeps } from '../../../src/execution/ports';
import type { ExecutionOutcome, ExecutionRequest } from '../../../src/execution/types';
import { createSilentLogger, type Logger } from '../../../src/log';

const created: string[] = [];
afterAll(() => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'attune-exec-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}

export type PackFile = string | { content: string; mode?: number };

/** A pack dir with `actions/<name>` files; returns the pack dir. */
export function makePack(actions: Record<string, PackFile>, extra: Record<string, PackFile> = {}): string {
  const packDir = path.join(tempDir('attune-pack-'), 'pack');
  fs.mkdirSync(path.join(packDir, 'actions'), { recursive: true });
  const write = (rel: string, f: PackFile): void => {
    const file = path.join(packDir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { content, mode } = typeof f === 'string' ? { content: f, mode: undefined } : f;
    fs.writeFileSync(file, content);
    if (mode !== undefined) fs.chmodSync(file, mode);
  };
  for (const [name, f] of Object.entries(actions)) write(path.join('actions', name), f);
  for (const [name, f] of Object.entries(extra)) write(name, f);
  return packDir;
}

/** Whether `bin` is on the test process PATH. */
export function has(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, bin), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const HAS_BASH = fs.existsSync('/bin/bash');
export const HAS_PYTHON = has('python3');
export const HAS_NODE = has('node');
export const HAS_SLEEP = has('sleep');

export function baseEnv(source: Record<string, string | undefined> = process.env, passthrough: string[] = []): EnvMap {
  return captureChildBaseEnv(source, passthrough);
}

let nextId = 1000;

export function makeRequest(overrides: Partial<ExecutionRequest> & { packDir: string }): ExecutionRequest {
  const id = overrides.executionId ?? nextId++;
  return {
    executionId: id,
    actionRef: 'demo.act',
    packRef: 'demo',
    entrypoint: 'act.sh',
    runtimeName: 'shell',
    isAdhoc: false,
    parameterDelivery: 'stdin',
    parameterFormat: 'json',
    outputFormat: 'text',
    outSchema: null,
    runtimeConfig: null,
    parameters: {},
    secretParameterPaths: [],
    envVars: null,
    timeoutSec: 30,
    context: {
      apiUrl: 'http://0.0.0.0:8080',
      artifactsDir: '/opt/attune/artifacts',
      runtimeEnvsDir: '/opt/attune/runtime_envs',
    },
    maxStdoutBytes: 10 * 1024 * 1024,
    maxStderrBytes: 10 * 1024 * 1024,
    baseEnv: baseEnv(),
    envDir: null,
    ...overrides,
  };
}

export function run(request: ExecutionRequest, deps: Partial<ExecutionDeps> = {}): Promise<ExecutionOutcome> {
  return runExecution(request, { log: createSilentLogger(), tmpDir: tempDir('attune-tmp-'), ...deps });
}

/** A pino logger at trace level writing into a string buffer. */
export function captureLogger(): { log: Logger; text: () => string } {
  let buf = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  const log = pino({ level: 'trace' }, sink);
  return { log, text: () => buf };
}

/** Poll until `fn` is true or `ms` elapses. */
export async function waitFor(fn: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return fn();
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
