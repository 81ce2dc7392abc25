import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeRuntimeCacheKey, rustPlatformString, sha256Hex } from '../../../src/envs/cache-key';
import { interpreterFor, resolveEnvDir } from '../../../src/envs/env-dir';
import type { RuntimeExecutionConfig } from '../../../src/execution/types';

const RELEASE = 'a'.repeat(64);
const PY_CONFIG: RuntimeExecutionConfig = {
  interpreter: { binary: 'python3', args: ['-u'], file_extension: '.py' },
  environment: { env_type: 'virtualenv', create_command: ['python3', '-m', 'venv', '{env_dir}'], interpreter_path: '{env_dir}/bin/python3' },
  dependencies: { manifest_file: 'requirements.txt', install_command: ['{interpreter}', '-m', 'pip', 'install', '-r', '{manifest_path}'] },
};

describe('computeRuntimeCacheKey', () => {
  it('matches a vector computed independently (python hashlib, u64-le length prefixes)', () => {
    // python3: for v in ['1','a'*64,'b'*64,'python','3.12','linux:x86_64:gnu','worker-v1']:
    //            h.update(struct.pack('<Q', len(v))); h.update(v)
    const key = computeRuntimeCacheKey({
      releaseDigest: 'a'.repeat(64),
      dependencyDigest: 'b'.repeat(64),
      runtimeName: 'python',
      runtimeVersion: '3.12',
      platform: 'linux:x86_64:gnu',
      workerImageFormat: 'worker-v1',
    });
    expect(key).toBe('62593c8858f03daa0a617f885feb7161af36d9c0f2212f38d75996e5d1390ca1');
  });

  it('rejects digests that are not lower-case SHA-256 (upstream then uses the legacy layout)', () => {
    const base = { dependencyDigest: 'b'.repeat(64), runtimeName: 'python', runtimeVersion: 'default', platform: 'p', workerImageFormat: 'w' };
    expect(computeRuntimeCacheKey({ ...base, releaseDigest: 'A'.repeat(64) })).toBeNull();
    expect(computeRuntimeCacheKey({ ...base, releaseDigest: 'a'.repeat(63) })).toBeNull();
    expect(computeRuntimeCacheKey({ ...base, releaseDigest: RELEASE, dependencyDigest: 'xyz' })).toBeNull();
  });
});

describe('rustPlatformString', () => {
  it('uses Rust std::env::consts names', () => {
    expect(rustPlatformString('linux', 'x64', 'gnu')).toBe('linux:x86_64:gnu');
    expect(rustPlatformString('linux', 'arm64', 'musl')).toBe('linux:aarch64:musl');
    expect(rustPlatformString('darwin', 'arm64')).toBe('macos:aarch64:other');
  });

  it('reports gnu for the glibc-linked Node running these tests on Linux', () => {
    if (process.platform !== 'linux') return;
    expect(rustPlatformString()).toMatch(/^linux:(x86_64|aarch64):gnu$/);
  });
});

describe('resolveEnvDir', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'envdir-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const base = () => ({
    runtimeEnvsDir: '/envs',
    packRef: 'mypack',
    runtimeName: 'python',
    packDir: dir,
    runtimeConfig: PY_CONFIG,
    env: {},
    platform: 'linux:x86_64:gnu',
  });

  it('uses {runtime_envs_dir}/{pack_ref}/{runtime_name}[-{version}] without a release digest', async () => {
    expect(await resolveEnvDir({ ...base() })).toBe('/envs/mypack/python');
    expect(await resolveEnvDir({ ...base(), version: '3.12', packReleaseDigest: null })).toBe('/envs/mypack/python-3.12');
    expect(await resolveEnvDir({ ...base(), runtimeName: 'node.js' })).toBe('/envs/mypack/node.js');
  });

  it('uses sha256/{key} over the manifest digest when a release digest is present', async () => {
    writeFileSync(join(dir, 'requirements.txt'), 'requests==2.0\n');
    const got = await resolveEnvDir({ ...base(), packReleaseDigest: RELEASE, env: { ATTUNE_WORKER_IMAGE_FORMAT_VERSION: 'fmt-7' } });
    const key = computeRuntimeCacheKey({
      releaseDigest: RELEASE,
      dependencyDigest: sha256Hex('requests==2.0\n'),
      runtimeName: 'python',
      runtimeVersion: 'default',
      platform: 'linux:x86_64:gnu',
      workerImageFormat: 'fmt-7',
    });
    expect(got).toBe(`/envs/sha256/${key}`);
  });

  it('changes the key when the manifest, version or image format changes', async () => {
    const opts = { ...base(), packReleaseDigest: RELEASE };
    const noManifest = await resolveEnvDir(opts);
    writeFileSync(join(dir, 'requirements.txt'), 'a\n');
    const withManifest = await resolveEnvDir(opts);
    writeFileSync(join(dir, 'requirements.txt'), 'b\n');
    const changed = await resolveEnvDir(opts);
    const versioned = await resolveEnvDir({ ...opts, version: '3.12' });
    const otherFormat = await resolveEnvDir({ ...opts, env: { ATTUNE_WORKER_IMAGE_FORMAT_VERSION: 'x' } });
    expect(new Set([noManifest, withManifest, changed, versioned, otherFormat]).size).toBe(5);
  });

  it('hashes empty input as the dependency digest when the manifest is absent', async () => {
    const got = await resolveEnvDir({ ...base(), packReleaseDigest: RELEASE, env: { ATTUNE_WORKER_IMAGE_FORMAT_VERSION: 'w' } });
    const key = computeRuntimeCacheKey({
      releaseDigest: RELEASE,
      dependencyDigest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      runtimeName: 'python',
      runtimeVersion: 'default',
      platform: 'linux:x86_64:gnu',
      workerImageFormat: 'w',
    });
    expect(got).toBe(`/envs/sha256/${key}`);
  });

  it('falls back to the legacy layout for a malformed release digest', async () => {
    expect(await resolveEnvDir({ ...base(), packReleaseDigest: 'not-a-digest' })).toBe('/envs/mypack/python');
  });
});

describe('interpreterFor', () => {
  it('returns the substituted interpreter_path only when it exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'interp-'));
    try {
      expect(interpreterFor({ envDir: dir, runtimeConfig: PY_CONFIG })).toBeNull();
      mkdirSync(join(dir, 'bin'));
      writeFileSync(join(dir, 'bin', 'python3'), '');
      expect(interpreterFor({ envDir: dir, runtimeConfig: PY_CONFIG })).toBe(join(dir, 'bin', 'python3'));
      expect(interpreterFor({ envDir: null, runtimeConfig: PY_CONFIG })).toBeNull();
      expect(interpreterFor({ envDir: dir, runtimeConfig: { interpreter: { binary: 'bash' } } })).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
