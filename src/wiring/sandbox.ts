/**
 * What this container lets the agent do (non-root uid, read-only root, writable mounts; spec 07
 * §8.2): gathers the facts from the process and the filesystem for the pure rules in
 * worker/sandbox-check.ts and logs each finding once at start-up.
 */
import { accessSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import type { Config } from '../config/types';
import type { Logger } from '../log';
import { ACCESS_WRITE_DIR, checkSandbox } from '../worker/sandbox-check';

export function reportSandbox(config: Config, env: Readonly<Record<string, string | undefined>>, packsTransport: Config['packsTransport'], log: Logger): void {
  const facts = {
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    tmpDir: tmpdir(),
    home: env.HOME,
    runtimeEnvsDir: config.runtimeEnvsDir,
    packsBaseDir: config.packsBaseDir,
    packsTransport,
  };
  for (const f of checkSandbox(facts, isWritableDir)) log[f.level]({ check: f.code, path: f.path }, f.message);
}

/** Writable for this process: the directory itself, or (not created yet) its nearest existing parent. */
function isWritableDir(dir: string): boolean {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, ACCESS_WRITE_DIR);
    return true;
  } catch {
    return false;
  }
}
