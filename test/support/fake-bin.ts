import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp directory of fake interpreters (`#!/bin/sh` scripts) to use as a child PATH. */
export interface FakeBinDir {
  dir: string;
  /** Write `name` with the given sh body; mode 0o755 unless stated. Returns its path. */
  add(name: string, body: string, mode?: number): string;
  remove(): void;
}

export function createFakeBinDir(): FakeBinDir {
  const dir = mkdtempSync(join(tmpdir(), 'attune-detect-'));
  return {
    dir,
    add(name, body, mode = 0o755) {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, mode);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The probes get only this env, so scripts must call other tools by absolute path. */
export const noFastPath = (): boolean => false;
