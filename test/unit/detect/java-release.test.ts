import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectRuntimes } from '../../../src/detect/probe';
import { javaReleaseVersion } from '../../../src/detect/java-release';
import { noFastPath } from '../../support/fake-bin';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'attune-jdk-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fake `java` under `<home>/<binDir>/java` that prints `banner` the way `java -version` does. */
function fakeJava(home: string, binDir: string, banner: string): string {
  const dir = join(home, binDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'java');
  writeFileSync(path, `#!/bin/sh\necho '${banner}' >&2\n`);
  chmodSync(path, 0o755);
  return path;
}

/** `<root>/bin/java` → the real binary, as Debian's alternatives link `/usr/bin/java`. */
function linkOnPath(target: string): string {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(target, join(bin, 'java'));
  return bin;
}

const RELEASE = 'IMPLEMENTOR="Eclipse Adoptium"\nJAVA_RUNTIME_VERSION="21.0.2+13-LTS"\nJAVA_VERSION="21.0.2"\nOS_NAME="Linux"\n';

describe('java version from the release file', () => {
  it('reads JAVA_VERSION through the symlinks instead of starting the JVM', async () => {
    const home = join(root, 'jdk-21');
    // The banner differs from the release file, so the test tells which one was used.
    const real = fakeJava(home, 'bin', 'openjdk version "99.0.0" 2099-01-01');
    writeFileSync(join(home, 'release'), RELEASE);
    const bin = linkOnPath(real);

    expect(javaReleaseVersion(join(bin, 'java'))).toBe('21.0.2');
    const found = await detectRuntimes({ env: { PATH: bin }, fileExists: noFastPath });
    expect(found).toEqual([{ name: 'java', path: join(bin, 'java'), version: '21.0.2' }]);
  });

  it('finds the JDK 8 release file above jre/bin/java, keeping the 1.8.0_392 form', () => {
    const home = join(root, 'jdk8');
    const real = fakeJava(home, 'jre/bin', 'java version "1.8.0_392"');
    writeFileSync(join(home, 'release'), 'JAVA_VERSION="1.8.0_392"\nOS_NAME="Linux"\n');
    expect(javaReleaseVersion(real)).toBe('1.8.0_392');
  });

  it('runs `java -version` when there is no release file, or it has no JAVA_VERSION line', async () => {
    const home = join(root, 'wrapper');
    const real = fakeJava(home, 'bin', 'openjdk version "17.0.9" 2023-10-17');
    const bin = linkOnPath(real);
    expect(javaReleaseVersion(join(bin, 'java'))).toBeNull();
    expect(await detectRuntimes({ env: { PATH: bin }, fileExists: noFastPath })).toEqual([
      { name: 'java', path: join(bin, 'java'), version: '17.0.9' },
    ]);

    writeFileSync(join(home, 'release'), 'IMPLEMENTOR="Nobody"\nJAVA_VERSION=""\n');
    expect(javaReleaseVersion(join(bin, 'java'))).toBeNull();
    const [java] = await detectRuntimes({ env: { PATH: bin }, fileExists: noFastPath });
    expect(java?.version).toBe('17.0.9');
  });

  it('returns null for a dangling link instead of throwing', () => {
    const bin = linkOnPath(join(root, 'gone', 'bin', 'java'));
    expect(javaReleaseVersion(join(bin, 'java'))).toBeNull();
  });
});
