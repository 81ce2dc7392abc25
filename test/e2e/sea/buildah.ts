/**
 * buildah as a stand-in for a Docker engine (none on this machine): vfs storage under
 * .cache/buildah/, chroot isolation, never pulling. The base images the Dockerfile names
 * (busybox:1.36, debian:bookworm-slim) are assembled locally from the cached root filesystems
 * (scripts/rootfs.sh) and tagged with those names.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensureRootfs } from '../../support/rootfs';
import { REPO_ROOT, runAsync, type RunResult } from '../../support/sea';

export const STORAGE = ['--root', join(process.env.ATTUNE_AGENT_CACHE_DIR || join(REPO_ROOT, '.cache'), 'buildah', 'root'), '--runroot', '/run/attune-buildah-test', '--storage-driver', 'vfs'];
const CONTAINER_ENV_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function buildah(args: readonly string[], timeoutMs = 600_000): Promise<RunResult> {
  return runAsync('buildah', [...STORAGE, ...args], { cwd: REPO_ROOT, timeoutMs });
}

export async function buildahOk(args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await buildah(args, timeoutMs);
  if (r.status !== 0) throw new Error(`buildah ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function assertBuildahInstalled(): Promise<void> {
  const r = await runAsync('buildah', ['--version']).catch(() => null);
  if (!r || r.status !== 0) throw new Error('buildah not found: run scripts/install-build-deps.sh (Debian package buildah)');
}

async function imageExists(ref: string): Promise<boolean> {
  return (await buildah(['inspect', '--type', 'image', ref])).status === 0;
}

/**
 * Commit a root filesystem as image `ref` unless it exists. `prune` removes paths (relative to the
 * root) that are test mount points, not part of the stand-in image.
 */
async function commitRoot(ref: string, rootDir: string, cmd: string[], prune: string[], arch?: string): Promise<void> {
  if (await imageExists(ref)) return;
  const staging = mkdtempSync(join(tmpdir(), 'attune-base-'));
  try {
    const cp = await runAsync('cp', ['-a', `${rootDir}/.`, staging]);
    if (cp.status !== 0) throw new Error(`cp ${rootDir}: ${cp.stderr}`);
    for (const p of prune) rmSync(join(staging, p), { recursive: true, force: true });
    const c = (await buildahOk(['from', 'scratch'])).trim();
    try {
      await buildahOk(['copy', c, `${staging}/`, '/']);
      const cfg = ['config', '--cmd', JSON.stringify(cmd), '--env', CONTAINER_ENV_PATH];
      if (arch) cfg.push('--arch', arch);
      await buildahOk([...cfg, c]);
      await buildahOk(['commit', '-q', c, ref]);
    } finally {
      await buildah(['rm', c]);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** busybox:1.36 and debian:bookworm-slim stand-ins (the Debian one is minbase + python3). */
export async function ensureBaseImages(): Promise<void> {
  await commitRoot('docker.io/library/busybox:1.36', await ensureRootfs('busybox'), ['sh'], ['opt']);
  await commitRoot('docker.io/library/debian:bookworm-slim', await ensureRootfs('debian'), ['bash'], ['opt/attune']);
}

export interface ImageConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  architecture: string;
  labels: Record<string, string>;
}

export async function imageConfig(ref: string): Promise<ImageConfig> {
  const j = JSON.parse(await buildahOk(['inspect', '--type', 'image', ref])) as {
    OCIv1: { architecture: string; config: { Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string> } };
  };
  return {
    entrypoint: j.OCIv1.config.Entrypoint ?? null,
    cmd: j.OCIv1.config.Cmd ?? null,
    architecture: j.OCIv1.architecture,
    labels: j.OCIv1.config.Labels ?? {},
  };
}

/** A working container of `ref`, its mounted root, a runner and a cleanup. */
export async function openContainer(ref: string): Promise<{
  rootfs: string;
  run(argv: readonly string[], volumes?: readonly string[]): Promise<RunResult>;
  close(): Promise<void>;
}> {
  const c = (await buildahOk(['from', '--pull=never', ref])).trim();
  const rootfs = (await buildahOk(['mount', c])).trim();
  if (!existsSync(rootfs)) throw new Error(`buildah mount gave ${rootfs}`);
  return {
    rootfs,
    run: (argv, volumes = []) =>
      buildah(['run', '--isolation', 'chroot', ...volumes.flatMap((v) => ['-v', v]), c, '--', ...argv], 120_000),
    close: async () => {
      await buildah(['umount', c]);
      await buildah(['rm', c]);
    },
  };
}
