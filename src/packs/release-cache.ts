/**
 * The local cache of unpacked pack releases (layout: release-layout.ts). Shared by every
 * execution of this process and safe beside other processes using the same packs_base_dir:
 *
 * - publish: unpack into `.<digest>.<uuid>.tmp`, write the ready marker, then ONE rename to
 *   `<digest>` — a crash at any point leaves only a dot-named temp dir, never a tree that looks
 *   ready (as upstream). Temp dirs and downloads older than STALE_MS are removed by `init()`
 *   (upstream leaves them).
 * - bound: `packs.cache_max_bytes` (our key). After each new release, least recently used ready
 *   releases are evicted until the total fits, skipping releases an execution of this process
 *   holds and releases another live process holds a lease file on. In use ones are never
 *   evicted, so the bound can be exceeded while they run (logged).
 * - eviction renames a release away before deleting it and re-checks leases after the rename,
 *   so a process that takes a lease concurrently either sees the release gone (and fetches it
 *   again) or keeps it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log';
import { toError } from '../errors';
import { extractPackArchive } from './archive';
import {
  RELEASE_READY_MARKER,
  downloadsDir,
  isReleaseReadyAt,
  isValidDigest,
  leasesRoot,
  releaseCacheRoot,
  releaseDir,
} from './release-layout';

/** Default `packs.cache_max_bytes`: half of the chart's 2 Gi packs emptyDir. */
export const DEFAULT_PACK_CACHE_MAX_BYTES = 1024 * 1024 * 1024;
/** A temp dir or download untouched this long belongs to a dead process (downloads time out at 300 s). */
export const STALE_MS = 15 * 60_000;
/** A lease from another host cannot be checked for liveness; it is trusted this long. */
const FOREIGN_LEASE_MS = 24 * 3600_000;
const WORK_NAME_RE = /^\.[0-9a-f]{64}\.[0-9a-f-]+\.(tmp|evict)$/;

export interface ReleaseCacheOptions {
  packsBaseDir: string;
  maxBytes: number;
  log: Logger;
  /** Identity of this process in lease file names (tests run several caches in one process). */
  leaseId?: string;
  isProcessAlive?: (pid: number) => boolean;
}

interface Entry {
  bytes: number;
  lastUsedMs: number;
}

export class ReleaseCache {
  private readonly entries = new Map<string, Entry>();
  private readonly holds = new Map<string, number>();
  private readonly leaseId: string;
  private readonly host: string;
  private lastTick = 0;

  constructor(private readonly opts: ReleaseCacheOptions) {
    this.host = safeHostname();
    this.leaseId = opts.leaseId ?? `${this.host}-${process.pid}`;
  }

  /** Strictly increasing "now" so uses within one millisecond still order (LRU). */
  private tick(): number {
    this.lastTick = Math.max(Date.now(), this.lastTick + 0.001);
    return this.lastTick;
  }

  get totalBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  /** Digests of the ready releases this cache knows, least recently used first. */
  digests(): string[] {
    return [...this.entries.entries()].sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs).map(([d]) => d);
  }

  /** Scan what is on disk and remove leftovers of crashed processes. */
  async init(): Promise<{ releases: number; bytes: number; staleRemoved: number }> {
    const root = releaseCacheRoot(this.opts.packsBaseDir);
    await mkdir(root, { recursive: true });
    let staleRemoved = 0;
    const now = Date.now();
    for (const name of await readdir(root)) {
      const dir = join(root, name);
      if (isValidDigest(name) && isReleaseReadyAt(dir, name)) {
        const marker = await stat(join(dir, RELEASE_READY_MARKER));
        this.entries.set(name, { bytes: await treeBytes(join(dir, 'pack')), lastUsedMs: marker.mtimeMs });
      } else if (WORK_NAME_RE.test(name) && now - (await mtimeMs(dir)) > STALE_MS) {
        await rm(dir, { recursive: true, force: true });
        staleRemoved++;
      }
    }
    const dl = downloadsDir(this.opts.packsBaseDir);
    for (const name of await readdir(dl).catch(() => [] as string[])) {
      if (name.endsWith('.tar.gz') && now - (await mtimeMs(join(dl, name))) > STALE_MS) {
        await rm(join(dl, name), { force: true });
        staleRemoved++;
      }
    }
    return { releases: this.entries.size, bytes: this.totalBytes, staleRemoved };
  }

  isReady(digest: string): boolean {
    const dir = releaseDir(this.opts.packsBaseDir, digest);
    const ready = isValidDigest(digest) && isReleaseReadyAt(dir, digest);
    if (!ready) this.entries.delete(digest);
    else if (!this.entries.has(digest)) {
      // Published by another process sharing the directory: count it (size measured in the background).
      const entry: Entry = { bytes: 0, lastUsedMs: this.tick() };
      this.entries.set(digest, entry);
      void treeBytes(join(dir, 'pack')).then((b) => (entry.bytes = b));
    }
    return ready;
  }

  /**
   * Unpack a verified archive and publish it atomically. Resolves when `<digest>` is ready
   * (by us or by a process that won the rename). Archive errors propagate (PackArchiveError).
   */
  async publish(digest: string, packRef: string, archivePath: string): Promise<void> {
    const root = releaseCacheRoot(this.opts.packsBaseDir);
    await mkdir(root, { recursive: true });
    const tmp = join(root, `.${digest}.${randomUUID()}.tmp`);
    try {
      const stats = await extractPackArchive(archivePath, join(tmp, 'staging'), packRef);
      await rename(join(tmp, 'staging', packRef), join(tmp, 'pack'));
      await rm(join(tmp, 'staging'), { recursive: true, force: true });
      await writeFile(join(tmp, RELEASE_READY_MARKER), digest);
      await this.install(tmp, digest);
      this.entries.set(digest, { bytes: stats.bytes, lastUsedMs: this.tick() });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async install(tmp: string, digest: string): Promise<void> {
    const dest = releaseDir(this.opts.packsBaseDir, digest);
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, dest);
        return;
      } catch (e) {
        if (isReleaseReadyAt(dest, digest)) return; // another task or process won: same bytes
        if (attempt > 0) throw e;
        // Something that is not a ready release sits there (upstream would fail forever): move it away.
        this.opts.log.warn({ dir: dest }, 'replacing an incomplete release directory in the pack cache');
        await this.moveAwayAndDelete(digest);
      }
    }
  }

  /** Mark `digest` in use by an execution of this process; returns the (idempotent) release. */
  acquire(digest: string): () => void {
    const n = (this.holds.get(digest) ?? 0) + 1;
    this.holds.set(digest, n);
    const entry = this.entries.get(digest);
    if (entry) entry.lastUsedMs = this.tick();
    if (n === 1) this.writeLease(digest);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(digest) ?? 1) - 1;
      const e = this.entries.get(digest);
      if (e) e.lastUsedMs = this.tick();
      if (left > 0) {
        this.holds.set(digest, left);
        return;
      }
      this.holds.delete(digest);
      const dir = join(leasesRoot(this.opts.packsBaseDir), digest);
      try {
        unlinkSync(join(dir, this.leaseId));
        rmdirSync(dir); // only when no other process holds a lease (ENOTEMPTY otherwise)
      } catch {
        /* another lease is there, or already gone (a test wiping the dir) */
      }
    };
  }

  isHeld(digest: string): boolean {
    return (this.holds.get(digest) ?? 0) > 0;
  }

  /** Evict least recently used releases nobody uses until the cache fits its bound. */
  async enforceBound(): Promise<string[]> {
    const evicted: string[] = [];
    let total = this.totalBytes;
    if (total <= this.opts.maxBytes) return evicted;
    for (const digest of this.digests()) {
      if (total <= this.opts.maxBytes) break;
      if (this.isHeld(digest) || this.hasForeignLease(digest)) continue;
      const bytes = this.entries.get(digest)?.bytes ?? 0;
      if (await this.evict(digest)) {
        evicted.push(digest);
        total -= bytes;
      }
    }
    const log = this.opts.log;
    if (evicted.length > 0) log.info({ evicted, totalBytes: total, maxBytes: this.opts.maxBytes }, 'pack release cache over its bound: unused releases evicted');
    if (total > this.opts.maxBytes) log.warn({ totalBytes: total, maxBytes: this.opts.maxBytes }, 'pack release cache stays over packs.cache_max_bytes: the remaining releases are in use');
    return evicted;
  }

  private async evict(digest: string): Promise<boolean> {
    const dest = releaseDir(this.opts.packsBaseDir, digest);
    const away = join(releaseCacheRoot(this.opts.packsBaseDir), `.${digest}.${randomUUID()}.evict`);
    try {
      await rename(dest, away);
    } catch {
      this.entries.delete(digest);
      return false;
    }
    if (this.isHeld(digest) || this.hasForeignLease(digest)) {
      // Someone took it between the check and the rename: put it back (or drop ours if re-fetched).
      await rename(away, dest).catch(() => undefined);
      await rm(away, { recursive: true, force: true });
      return false;
    }
    this.entries.delete(digest);
    await rm(away, { recursive: true, force: true });
    return true;
  }

  /**
   * pack.deleted (spec 06 §6.1, upstream `remove_release_tree`): the release tree goes, even if
   * in use (as upstream). Refuses symlinked cache directories. Returns whether a tree was removed.
   */
  async remove(digest: string): Promise<boolean> {
    if (!isValidDigest(digest)) return false;
    const base = this.opts.packsBaseDir;
    for (const p of [join(base, '.releases'), releaseCacheRoot(base), releaseDir(base, digest)]) {
      const st = await lstat(p).catch(() => null);
      if (st === null) return false;
      if (!st.isDirectory()) throw new Error(`Pack release cache path ${p} must be a real directory`);
    }
    await this.moveAwayAndDelete(digest);
    this.entries.delete(digest);
    return true;
  }

  private async moveAwayAndDelete(digest: string): Promise<void> {
    const away = join(releaseCacheRoot(this.opts.packsBaseDir), `.${digest}.${randomUUID()}.evict`);
    await rename(releaseDir(this.opts.packsBaseDir, digest), away);
    await rm(away, { recursive: true, force: true });
  }

  private writeLease(digest: string): void {
    try {
      const dir = join(leasesRoot(this.opts.packsBaseDir), digest);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, this.leaseId), `${Date.now()}\n`);
    } catch (e) {
      this.opts.log.warn({ digest, err: toError(e) }, 'could not write a pack release lease file; other processes sharing the cache may evict it');
    }
  }

  /** A live lease on `digest` by another process (dead ones on this host are cleaned up). */
  private hasForeignLease(digest: string): boolean {
    const dir = join(leasesRoot(this.opts.packsBaseDir), digest);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    const alive = this.opts.isProcessAlive ?? processAlive;
    for (const name of names) {
      if (name === this.leaseId) continue;
      const dash = name.lastIndexOf('-');
      const host = name.slice(0, dash);
      const pid = Number(name.slice(dash + 1));
      if (host === this.host && Number.isInteger(pid)) {
        if (alive(pid)) return true;
        try {
          unlinkSync(join(dir, name));
        } catch {
          /* raced with its owner */
        }
        continue;
      }
      // Another host (a shared volume): its pid cannot be checked; trusted for FOREIGN_LEASE_MS.
      try {
        if (Date.now() - statSync(join(dir, name)).mtimeMs < FOREIGN_LEASE_MS) return true;
      } catch {
        /* gone */
      }
    }
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function mtimeMs(p: string): Promise<number> {
  return (await stat(p).catch(() => null))?.mtimeMs ?? Date.now();
}

async function treeBytes(dir: string): Promise<number> {
  let n = 0;
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, d.name);
    if (d.isDirectory()) n += await treeBytes(p);
    else if (d.isFile()) n += (await lstat(p)).size;
  }
  return n;
}

function safeHostname(): string {
  try {
    return hostname() || 'localhost';
  } catch {
    return 'localhost';
  }
}
