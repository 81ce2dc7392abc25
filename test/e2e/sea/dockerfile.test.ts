/**
 * docker/Dockerfile.agent, built for real with buildah (no Docker engine here) from the prebuilt
 * bundle (`--build-arg AGENT_SOURCE=prebuilt`, the context's dist/agent-linux-<arch>/).
 *
 * The `builder` stage is built (hermetically, no network) by test/e2e/k8s/dockerfile-builder.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPO_ROOT, ensureSeaBuilt, readelf, type SeaBuild } from '../../support/sea';
import { assertBuildahInstalled, buildah, buildahOk, ensureBaseImages, imageConfig, openContainer } from './buildah';

const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const suffix = randomBytes(4).toString('hex');
const tags = {
  init: `localhost/attune-test/agent-init:${suffix}`,
  initArm64: `localhost/attune-test/agent-init-arm64:${suffix}`,
  worker: `localhost/attune-test/worker:${suffix}`,
};
const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function bud(target: string, tag: string, extra: string[] = []): Promise<string> {
  return buildahOk([
    'bud', '--isolation', 'chroot', '--pull=never', '--layers=false',
    '-f', 'docker/Dockerfile.agent', '--ignorefile', 'docker/Dockerfile.agent.dockerignore',
    '--target', target, '--build-arg', 'AGENT_SOURCE=prebuilt', ...extra, '-t', tag, '.',
  ], 900_000);
}

describe('docker/Dockerfile.agent (buildah, prebuilt bundle)', () => {
  let x64: SeaBuild;
  let arm64: SeaBuild;
  const scratch: string[] = [];

  beforeAll(async () => {
    await assertBuildahInstalled();
    x64 = await ensureSeaBuilt('x64');
    arm64 = await ensureSeaBuilt('arm64');
    await ensureBaseImages();
    await bud('agent-init', tags.init, ['--build-arg', 'TARGETARCH=amd64']);
  });
  afterAll(async () => {
    for (const t of Object.values(tags)) await buildah(['rmi', '-f', t]);
    // buildah 1.28 leaves the working container of the instruction-less `agent-source` stage
    // behind; the storage under .cache/buildah is this test's own, so remove all containers.
    await buildah(['rm', '--all']);
    await buildah(['rmi', '--prune']);
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  it('agent-init runs the agent as entrypoint with `install --to /agent-bin` as default command', async () => {
    const cfg = await imageConfig(tags.init);
    expect(cfg.entrypoint).toEqual(['/opt/attune/agent/attune-agent']);
    expect(cfg.cmd).toEqual(['install', '--to', '/agent-bin']);
  });

  it('agent-init holds the bundle at /opt/attune/agent byte for byte, on busybox', async () => {
    const c = await openContainer(tags.init);
    try {
      const dir = join(c.rootfs, 'opt/attune/agent');
      expect(readdirSync(dir).sort()).toEqual(['attune-agent', 'lib']);
      expect(digest(join(dir, 'attune-agent'))).toBe(digest(x64.binary));
      for (const f of readdirSync(x64.libDir).filter((n) => n !== 'licenses')) {
        expect(digest(join(dir, 'lib', f)), f).toBe(digest(join(x64.libDir, f)));
      }
      expect(readdirSync(join(dir, 'lib', 'licenses'))).toContain('libc6.copyright');
      expect(readdirSync(join(c.rootfs, 'bin'))).toContain('busybox');
    } finally {
      await c.close();
    }
  });

  it('its default command fills a volume that a Debian worker then runs the agent from, read-only', async () => {
    const vol = mkdtempSync(join(tmpdir(), 'attune-agent-bin-'));
    scratch.push(vol);
    const cfg = await imageConfig(tags.init);
    const init = await openContainer(tags.init);
    try {
      const r = await init.run([...cfg.entrypoint!, ...cfg.cmd!], [`${vol}:/agent-bin`]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await init.close();
    }
    expect(digest(join(vol, 'attune-agent'))).toBe(digest(x64.binary));

    const worker = await openContainer('docker.io/library/debian:bookworm-slim');
    try {
      const v = await worker.run(['/opt/attune/agent/attune-agent', '--version'], [`${vol}:/opt/attune/agent:ro`]);
      expect(v).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n` });
      const d = await worker.run(['/opt/attune/agent/attune-agent', 'detect', '--json'], [`${vol}:/opt/attune/agent:ro`]);
      expect(d.status, d.stderr).toBe(0);
      const names = (JSON.parse(d.stdout) as { runtimes: Array<{ name: string }> }).runtimes.map((x) => x.name);
      expect(names).toEqual(expect.arrayContaining(['shell', 'python']));
    } finally {
      await worker.close();
    }
  });

  it('the worker stage bakes the agent into WORKER_IMAGE and runs it as entrypoint', async () => {
    await bud('worker', tags.worker, ['--build-arg', 'TARGETARCH=amd64']);
    const cfg = await imageConfig(tags.worker);
    expect(cfg.entrypoint).toEqual(['/opt/attune/agent/attune-agent']);
    const c = await openContainer(tags.worker);
    try {
      expect(readdirSync(join(c.rootfs, 'usr/bin'))).toContain('python3'); // the worker base is kept
      const r = await c.run([...cfg.entrypoint!, '--version']);
      expect(r).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n` });
    } finally {
      await c.close();
    }
  });

  it('TARGETARCH=arm64 puts the aarch64 bundle into agent-init', async () => {
    await bud('agent-init', tags.initArm64, ['--build-arg', 'TARGETARCH=arm64']);
    const c = await openContainer(tags.initArm64);
    try {
      const exe = join(c.rootfs, 'opt/attune/agent/attune-agent');
      expect(readelf('-h', exe)).toMatch(/Machine:\s+AArch64/);
      expect(digest(exe)).toBe(digest(arm64.binary));
      expect(readdirSync(join(c.rootfs, 'opt/attune/agent/lib'))).toContain('ld-linux-aarch64.so.1');
    } finally {
      await c.close();
    }
  });
});
