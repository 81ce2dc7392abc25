/**
 * The single executable inside root filesystems that stand in for user images (spec 05 §15.1,
 * §17): a glibc Debian image, busybox with no libc, an Alpine-like musl root, an empty root, and
 * an arm64 busybox root run under qemu-user. The agent directory is bind-mounted read-only at
 * /opt/attune/agent and /proc is mounted, as a container runtime would (spec 05 §7 item 2).
 *
 * Needs root (chroot, mount). Roots are cached under .cache/rootfs/ (scripts/rootfs.sh).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ensureRootfs, interpretersInRoot, mountAgentInRoot, realpathInRoot, type MountedRoot, type RootName,
} from '../../support/rootfs';
import { REPO_ROOT, ensureSeaBuilt, type SeaArch } from '../../support/sea';

const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

interface RootCase {
  readonly name: RootName;
  readonly arch: SeaArch;
  /** Independent sanity floor for what interpretersInRoot() must find (guards the oracle itself). */
  readonly atLeast: readonly string[];
  /** Whether the root has a glibc loader of its own (only the Debian one does). */
  readonly hasGlibc: boolean;
}

const ROOTS: readonly RootCase[] = [
  { name: 'debian', arch: 'x64', atLeast: ['shell', 'python'], hasGlibc: true },
  { name: 'busybox', arch: 'x64', atLeast: ['shell'], hasGlibc: false },
  { name: 'musl', arch: 'x64', atLeast: ['shell'], hasGlibc: false },
  { name: 'empty', arch: 'x64', atLeast: [], hasGlibc: false },
  { name: 'busybox-arm64', arch: 'arm64', atLeast: ['shell'], hasGlibc: false },
];

interface DetectJson {
  runtimes: Array<{ name: string; path: string; version: string | null }>;
  agent_version: string;
}

describe.each(ROOTS)('SEA in the $name root ($arch): startup and detection', (rc) => {
  let root: MountedRoot | undefined;
  let rootDir: string;

  beforeAll(async () => {
    const build = await ensureSeaBuilt(rc.arch);
    rootDir = await ensureRootfs(rc.name);
    root = mountAgentInRoot(rootDir, build.dir, rc.arch);
  });
  afterAll(() => root?.unmount());

  it(rc.hasGlibc ? 'is a glibc root (premise)' : 'has no glibc loader of its own (premise)', () => {
    const loaders = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1', '/lib/x86_64-linux-gnu/libc.so.6'];
    expect(loaders.some((p) => existsSync(join(rootDir, p)))).toBe(rc.hasGlibc);
    if (rc.name === 'musl') expect(existsSync(join(rootDir, 'lib/ld-musl-x86_64.so.1'))).toBe(true);
  });

  it('prints its version with --version and exits 0', () => {
    const r = root!.runAgent(['--version']);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n` });
  });

  it('reports exactly the interpreters the root contains with `detect --json`', () => {
    const r = root!.runAgent(['detect', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as DetectJson;
    expect(got.agent_version).toBe(VERSION);

    const want = interpretersInRoot(rootDir);
    for (const name of rc.atLeast) expect([...want.keys()], `the ${rc.name} root has ${name}`).toContain(name);
    expect(got.runtimes.map((x) => x.name)).toEqual([...want.keys()]);
    for (const rt of got.runtimes) {
      // Same file, whichever alias was found (/bin/bash vs /usr/bin/bash, /bin/sh -> busybox).
      expect(realpathInRoot(rootDir, rt.path), rt.name).toBe(realpathInRoot(rootDir, want.get(rt.name)!));
    }
  });

  if (rc.name === 'debian') {
    it("reports the root's own python3 version", () => {
      const own = root!.run(['/usr/bin/python3', '--version']);
      expect(own.status).toBe(0);
      const ownVersion = /Python (\d+\.\d+\.\d+)/.exec(own.stdout + own.stderr)?.[1];
      const got = JSON.parse(root!.runAgent(['detect', '--json']).stdout) as DetectJson;
      expect(got.runtimes.find((x) => x.name === 'python')?.version).toBe(ownVersion);
    });
  }
});

// Full executions inside the roots (register in PostgreSQL, consume from RabbitMQ on 127.0.0.1,
// run an action with the root's interpreter, publish the result). To be added once messaging has
// landed: reuse mountAgentInRoot(), pass ATTUNE__DATABASE__URL / ATTUNE__MESSAGE_QUEUE__URL via
// `runAgent(args, { env })` (the chroot shares the host network namespace, so 127.0.0.1 works).
describe('SEA in root filesystems: executions against PostgreSQL + RabbitMQ', () => {
  it.todo('debian root: registers a worker with runtimes shell,python and completes a python action');
  it.todo('busybox root: completes a shell action with busybox sh');
  it.todo('empty root: registers with no runtimes and fails an action with a clear "no runtime" result');
});
