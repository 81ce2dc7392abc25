/**
 * Unpacking a pack release archive with upstream's rules (spec 06 §6.3;
 * `crates/common/src/pack_transport/api.rs` `extract_pack_archive`, read at the newest stored
 * version): gzip tar; every entry relative, only normal components, first component = the pack
 * ref; only regular files and directories; at most 10 000 entries, 50 MiB per entry (declared),
 * 100 MiB in total; files created exclusively; mode, mtime and owner not kept, except that a
 * file with any execute bit becomes 0755.
 *
 * Parsing is node-tar's `Parser` (header/PAX/GNU long-name decoding, gzip); every write is ours,
 * so none of node-tar's own extraction policy (which follows links, keeps modes) applies.
 * Difference from upstream's tar-rs: a PAX *global* header is consumed as metadata by node-tar
 * instead of being refused as a "forbidden entry type".
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ReadEntry } from 'tar';
import { toError } from '../errors';

type TarModule = typeof import('tar');
let tar: TarModule | undefined;
/**
 * node-tar, loaded on the first archive (issue 18, idle RSS): only agents without the packs
 * volume unpack releases, and evaluating node-tar and its zlib/minipass stack at start-up cost
 * resident memory in every agent. A require() call, so the bundle evaluates it only here.
 */
function tarModule(): TarModule {
  tar ??= require('tar') as TarModule;
  return tar;
}

/** upstream `PackUploadConfig` defaults. */
export const PACK_ARCHIVE_LIMITS = {
  maxEntries: 10_000,
  maxEntryBytes: 50 * 1024 * 1024,
  maxTotalBytes: 100 * 1024 * 1024,
} as const;

export type PackArchiveLimits = { readonly [K in keyof typeof PACK_ARCHIVE_LIMITS]: number };

/** The archive itself is unacceptable (same bytes → same failure); never a local fault. */
export class PackArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PackArchiveError';
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'Directory']);
/** I/O errors caused by what the archive asks for (a file over a directory, a duplicate file). */
const CONTENT_ERRNOS = new Set(['EEXIST', 'ENOTDIR', 'EISDIR']);

/**
 * Relative path components as Rust's `Path::components()` yields them for a tar entry path,
 * or null when one of them is not `Normal` (absolute, leading `.`, any `..`).
 */
export function entryComponents(path: string): string[] | null {
  if (path.startsWith('/') || path.includes('\0') || path.includes('\\')) return null;
  const parts = path.split('/');
  if (parts[0] === '.') return null; // leading CurDir survives normalisation in Rust
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue; // repeated/trailing separators and inner `.` are normalised away
    if (p === '..') return null;
    out.push(p);
  }
  return out;
}

export interface ExtractStats {
  entries: number;
  bytes: number;
}

/**
 * Unpacks `archivePath` into `destDir` (created; must be empty or new), producing
 * `destDir/<packRef>/…`. Rejects with PackArchiveError for anything the rules forbid; a
 * partially written `destDir` is the caller's to remove.
 */
export async function extractPackArchive(
  archivePath: string,
  destDir: string,
  packRef: string,
  limits: PackArchiveLimits = PACK_ARCHIVE_LIMITS,
): Promise<ExtractStats> {
  await assertGzip(archivePath);
  await mkdir(destDir, { recursive: true });
  const stats: ExtractStats = { entries: 0, bytes: 0 };
  const writes: Promise<void>[] = [];
  // Stops file writes still waiting for data once the archive is refused or unreadable.
  const stop = new AbortController();
  try {
    await parseInto(archivePath, destDir, packRef, limits, stats, writes, stop);
  } catch (e) {
    stop.abort();
    await Promise.allSettled(writes);
    throw e;
  }
  const settled = await Promise.allSettled(writes);
  const bad = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (bad) throw bad.reason;
  if (!(await isFile(join(destDir, packRef, 'pack.yaml')))) {
    throw new PackArchiveError('Pack archive does not contain pack.yaml at its pack root');
  }
  return stats;
}

function parseInto(
  archivePath: string,
  destDir: string,
  packRef: string,
  limits: PackArchiveLimits,
  stats: ExtractStats,
  writes: Promise<void>[],
  stop: AbortController,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    const input = createReadStream(archivePath);
    // Absolute limits below bound the work; node-tar's ratio guard would refuse legitimate,
    // highly compressible packs that upstream accepts.
    const parser = new (tarModule().Parser)({ strict: true, maxDecompressionRatio: Number.MAX_SAFE_INTEGER });
    /** Parser errors mean a corrupt archive; `asIs` errors (local I/O while writing) stay what they are. */
    const fail = (e: unknown, asIs = false): void => {
      if (failed) return;
      failed = true;
      input.destroy();
      reject(asIs || e instanceof PackArchiveError ? e : new PackArchiveError(`Pack archive is not a valid gzip tar: ${toError(e).message}`));
    };
    parser.on('entry', (entry: ReadEntry) => {
      if (failed) {
        entry.resume();
        return;
      }
      try {
        const target = checkEntry(entry, packRef, stats, limits, destDir);
        if (entry.type === 'Directory') {
          entry.resume();
          writes.push(contentErrors(entry.path, mkdir(target, { recursive: true })));
        } else {
          const executable = ((entry.mode ?? 0) & 0o111) !== 0;
          const w = writeEntry(entry, target, executable, stop.signal);
          // A failed write refuses the archive at once (remaining entries are not read).
          w.catch((e: unknown) => fail(e, true));
          writes.push(w);
        }
      } catch (e) {
        entry.resume();
        fail(e);
      }
    });
    parser.on('error', fail);
    input.on('error', (e) => {
      if (failed) return;
      failed = true;
      reject(e); // the local file: not the archive's fault
    });
    parser.on('end', () => {
      if (!failed) resolve();
    });
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

function checkEntry(entry: ReadEntry, packRef: string, stats: ExtractStats, limits: PackArchiveLimits, destDir: string): string {
  stats.entries++;
  if (stats.entries > limits.maxEntries) throw new PackArchiveError('Pack archive contains too many entries');
  if (!ALLOWED_TYPES.has(entry.type)) throw new PackArchiveError(`Pack archive contains forbidden entry type ${entry.type}`);
  const size = entry.size ?? 0;
  if (size > limits.maxEntryBytes) throw new PackArchiveError('Pack archive entry exceeds the per-entry size limit');
  const parts = entryComponents(entry.path);
  if (parts === null || parts[0] !== packRef) {
    throw new PackArchiveError(`Pack archive entry '${entry.path}' is not confined to the '${packRef}' directory`);
  }
  if (entry.type !== 'Directory') {
    stats.bytes += size;
    if (stats.bytes > limits.maxTotalBytes) throw new PackArchiveError('Pack archive exceeds the total extracted size limit');
  }
  return join(destDir, ...parts);
}

async function writeEntry(entry: ReadEntry, target: string, executable: boolean, stop: AbortSignal): Promise<void> {
  const entryPath = entry.path;
  try {
    await mkdir(dirname(target), { recursive: true });
    // `wx`: created exclusively, as upstream (`create_new`): a duplicate entry is an error.
    const handle = await open(target, 'wx');
    await new Promise<void>((resolve, reject) => {
      const out = handle.createWriteStream();
      const onStop = (): void => {
        out.destroy();
        reject(new PackArchiveError('Pack archive extraction stopped'));
      };
      if (stop.aborted) return onStop();
      stop.addEventListener('abort', onStop, { once: true });
      out.on('error', reject);
      out.on('close', () => {
        stop.removeEventListener('abort', onStop);
        resolve();
      });
      entry.on('error', reject);
      entry.pipe(out);
    });
    if (executable) await chmod(target, 0o755);
  } catch (e) {
    entry.resume();
    throw asContentError(entryPath, e);
  }
}

async function contentErrors(entryPath: string, p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    throw asContentError(entryPath, e);
  }
}

function asContentError(entryPath: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined && CONTENT_ERRNOS.has(code)) {
    return new PackArchiveError(`Pack archive entry '${entryPath}' cannot be created (${code}): duplicate or conflicting path`);
  }
  return e;
}

async function assertGzip(archivePath: string): Promise<void> {
  const fh = await open(archivePath, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    if (bytesRead < 2 || head[0] !== 0x1f || head[1] !== 0x8b) throw new PackArchiveError('Pack archive is not gzip-compressed');
  } finally {
    await fh.close();
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
