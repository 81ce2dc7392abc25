import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/log';
import { PackArchiveError } from '../../../src/packs/archive';
import { ReleaseCache } from '../../../src/packs/release-cache';
import { isReleaseReady, releaseCacheRoot, releaseDir } from '../../../src/packs/release-layout';
import { buildTarGz, sha256Hex, simplePackArchive } from '../../support/pack-archive';

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'attune-cache-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const log = createSilentLogger();
function cache(maxBytes = 1 << 30, leaseId?: string, isProcessAlive?: (pid: number) => boolean): ReleaseCache {
  return new ReleaseCache({ packsBaseDir: base, maxBytes, log, leaseId, isProcessAlive });
}

function archiveFile(bytes: Buffer): { path: string; digest: string } {
  const path = join(base, `${Math.random().toString(16).slice(2)}.tar.gz`);
  writeFileSync(path, bytes);
  return { path, digest: sha256Hex(bytes) };
}

function cacheRootNames(): string[] {
  return readdirSync(releaseCacheRoot(base)).sort();
}

describe('ReleaseCache', () => {
  it('publishes <digest>/pack plus the ready marker holding the digest, and nothing else', async () => {
    const c = cache();
    await c.init();
    const a = archiveFile(simplePackArchive('demo'));
    await c.publish(a.digest, 'demo', a.path);
    const dir = releaseDir(base, a.digest);
    expect(readFileSync(join(dir, '.attune-release-ready'), 'utf8')).toBe(a.digest);
    expect(readdirSync(dir).sort()).toEqual(['.attune-release-ready', 'pack']);
    expect(readFileSync(join(dir, 'pack', 'pack.yaml'), 'utf8')).toContain('ref: demo');
    expect(isReleaseReady(base, a.digest)).toBe(true);
    expect(cacheRootNames()).toEqual([a.digest]);
  });

  it('never leaves anything that looks ready when unpacking fails', async () => {
    const c = cache();
    await c.init();
    const bad = archiveFile(buildTarGz([{ path: 'demo/pack.yaml', body: 'x' }, { path: 'demo/link', type: 'SymbolicLink', linkpath: '/' }]));
    await expect(c.publish(bad.digest, 'demo', bad.path)).rejects.toBeInstanceOf(PackArchiveError);
    expect(cacheRootNames()).toEqual([]);
    expect(isReleaseReady(base, bad.digest)).toBe(false);
  });

  it('concurrent publishes of one digest (as from several processes) end in one complete tree', async () => {
    const caches = Array.from({ length: 8 }, (_, i) => cache(1 << 30, `host-${i}`));
    const a = archiveFile(simplePackArchive('demo'));
    await Promise.all(caches.map((c) => c.publish(a.digest, 'demo', a.path)));
    expect(cacheRootNames()).toEqual([a.digest]);
    expect(isReleaseReady(base, a.digest)).toBe(true);
  });

  it('replaces a directory at <digest> that is not a ready release', async () => {
    const a = archiveFile(simplePackArchive('demo'));
    mkdirSync(join(releaseDir(base, a.digest), 'pack'), { recursive: true }); // no marker, no pack.yaml
    const c = cache();
    await c.init();
    await c.publish(a.digest, 'demo', a.path);
    expect(isReleaseReady(base, a.digest)).toBe(true);
  });

  it('init removes stale temp dirs and downloads of crashed processes but keeps fresh ones', async () => {
    const root = releaseCacheRoot(base);
    const d = 'a'.repeat(64);
    const stale = join(root, `.${d}.1111-2222.tmp`);
    const fresh = join(root, `.${d}.3333-4444.tmp`);
    mkdirSync(join(stale, 'pack'), { recursive: true });
    writeFileSync(join(stale, '.attune-release-ready'), d);
    mkdirSync(fresh, { recursive: true });
    mkdirSync(join(base, '.pack-downloads'));
    writeFileSync(join(base, '.pack-downloads', 'old.tar.gz'), 'x');
    const old = new Date(Date.now() - 3600_000);
    utimesSync(stale, old, old);
    utimesSync(join(base, '.pack-downloads', 'old.tar.gz'), old, old);
    const scan = await cache().init();
    expect(scan.staleRemoved).toBe(2);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(isReleaseReady(base, d)).toBe(false);
  });

  it('evicts least recently used releases past the bound, never one in use', async () => {
    const c = cache(1); // any release exceeds the bound
    await c.init();
    const [a, b, d] = ['one', 'two', 'three'].map((x) => archiveFile(simplePackArchive('demo', { [`${x}.txt`]: x.repeat(100) })));
    const holdA = c.acquire(a!.digest);
    await c.publish(a!.digest, 'demo', a!.path);
    await c.publish(b!.digest, 'demo', b!.path);
    await c.publish(d!.digest, 'demo', d!.path);
    const holdD = c.acquire(d!.digest);
    expect(await c.enforceBound()).toEqual([b!.digest]); // a held, d held: only b may go
    expect(isReleaseReady(base, a!.digest)).toBe(true);
    expect(isReleaseReady(base, b!.digest)).toBe(false);
    holdA();
    holdA(); // idempotent: d's hold is unaffected
    expect(await c.enforceBound()).toEqual([a!.digest]);
    expect(isReleaseReady(base, d!.digest)).toBe(true);
    expect(readdirSync(join(base, '.releases', 'leases')).sort()).toEqual([d!.digest]); // lease file while held
    holdD();
    expect(readdirSync(join(base, '.releases', 'leases'))).toEqual([]); // and gone with the last hold
    expect(await c.enforceBound()).toEqual([d!.digest]);
    expect(cacheRootNames()).toEqual([]);
  });

  it('keeps releases under the bound and evicts in least-recently-used order', async () => {
    const [a, b, d] = ['one', 'two', 'three'].map((x) => archiveFile(simplePackArchive('demo', { [`${x}.txt`]: x })));
    const probe = cache();
    await probe.publish(a!.digest, 'demo', a!.path);
    const one = probe.totalBytes;
    const c = cache(one * 2 + 2);
    await c.init();
    await c.publish(b!.digest, 'demo', b!.path);
    c.acquire(a!.digest)(); // a used after b
    expect(await c.enforceBound()).toEqual([]);
    await c.publish(d!.digest, 'demo', d!.path);
    expect(await c.enforceBound()).toEqual([b!.digest]);
    expect(c.digests().sort()).toEqual([a!.digest, d!.digest].sort());
  });

  it('does not evict a release another live process holds a lease on; a dead one does not count', async () => {
    const a = archiveFile(simplePackArchive('demo'));
    const host = cache(1, undefined, () => true);
    await host.publish(a.digest, 'demo', a.path);
    // Another process of this host takes a lease (its lease file name: <host>-<pid>).
    const other = cache(1, `${(await import('node:os')).hostname()}-999999`);
    const release = other.acquire(a.digest);
    expect(await host.enforceBound()).toEqual([]);
    release();
    expect(await host.enforceBound()).toEqual([a.digest]);

    await host.publish(a.digest, 'demo', a.path);
    other.acquire(a.digest); // never released: the process "died"
    const reaper = cache(1, undefined, () => false);
    await reaper.init();
    expect(await reaper.enforceBound()).toEqual([a.digest]);
  });

  it('remove() deletes a release tree and refuses symlinked cache directories', async () => {
    const a = archiveFile(simplePackArchive('demo'));
    const c = cache();
    await c.publish(a.digest, 'demo', a.path);
    expect(await c.remove(a.digest)).toBe(true);
    expect(await c.remove(a.digest)).toBe(false);

    const outside = mkdtempSync(join(tmpdir(), 'attune-outside-'));
    try {
      const victim = join(outside, 'sha256', a.digest, 'pack');
      mkdirSync(victim, { recursive: true });
      rmSync(releaseCacheRoot(base), { recursive: true });
      symlinkSync(join(outside, 'sha256'), releaseCacheRoot(base));
      await expect(c.remove(a.digest)).rejects.toThrow(/must be a real directory/);
      expect(existsSync(victim)).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
