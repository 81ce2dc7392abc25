/**
 * `attune-agent install --to DIR`: copy the agent bundle (the executable plus its private `lib/`)
 * into DIR. Used by the Helm `agent-loader` init container and the Compose `init-agent` service
 * instead of upstream's `cp /usr/local/bin/attune-agent …`, which copies one file only
 * (spec 05 §7 item 4, §17 item 3: our bundle is two entries and `lib/` must land first).
 *
 * Guarantees:
 * - idempotent: a file whose size and sha256 already match is not rewritten;
 * - atomic per entry: everything is staged in `DIR/.install-<rand>` on the same filesystem and
 *   renamed into place, so a reader sees the old or the new file, never a half-written one;
 * - `lib/` is replaced as a whole (new directory renamed over the old one) so the loader never sees
 *   a mix of two glibc builds; libs go in before the executable that needs them (spec 05 §17);
 * - permission bits are preserved.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { AgentError, UsageError } from '../errors';
import { AGENT_BINARY_NAME } from '../version';

/** The private glibc directory beside the executable (spec 05 §15.3). */
export const AGENT_LIB_DIR_NAME = 'lib';

const STAGING_PREFIX = '.install-';
const STAGING_RE = /^\.install-[0-9a-f]{12}$/;

export interface InstallOptions {
  /** Target directory, created if missing (e.g. `/agent-bin`, an emptyDir or named volume). */
  readonly to: string;
  /**
   * Directory holding `attune-agent` and `lib/`. Default: the directory of the running executable;
   * required when running under plain `node`, where that directory holds node, not the agent.
   */
  readonly from?: string;
  /** Path of the running executable; default `process.execPath` (injectable for tests). */
  readonly execPath?: string;
  /** Where progress lines go; default `process.stderr`. */
  readonly stderr?: { write(chunk: string): unknown };
  /** Accepted for symmetry with other commands; not written to (STYLE.md: only reports use stdout). */
  readonly stdout?: { write(chunk: string): unknown };
}

export type EntryAction = 'copied' | 'unchanged' | 'mode-updated' | 'removed';

export interface InstallReport {
  readonly targetDir: string;
  readonly sourceDir: string;
  /** Paths relative to the target dir (`attune-agent`, `lib/libc.so.6`) with what happened to each. */
  readonly entries: ReadonlyArray<{ readonly path: string; readonly action: EntryAction }>;
  /** Files written (copied or mode-updated); 0 on an up-to-date target. */
  readonly changed: number;
  /** Whether `lib/` existed in the source (a stock, unpatched executable has none). */
  readonly hasLib: boolean;
}

interface SourceFile {
  /** Path relative to the lib dir (or the binary name). */
  readonly rel: string;
  readonly abs: string;
  readonly kind: 'file' | 'symlink' | 'dir';
  readonly mode: number;
  readonly size: number;
  readonly linkTarget?: string;
}

/** Copy the agent bundle into `opts.to`. Throws `UsageError` for bad input, `AgentError` for I/O failures. */
export async function runInstall(opts: InstallOptions): Promise<InstallReport> {
  const out = opts.stderr ?? process.stderr;
  const execPath = opts.execPath ?? process.execPath;
  const { sourceDir, sourceBinary } = resolveSource(opts.from, execPath);
  const targetDir = resolve(opts.to);

  await assertSourceBinary(sourceBinary);
  if ((await realpathOrNull(sourceDir)) === (await realpathOrNull(targetDir))) {
    throw new UsageError(`install: source and target are the same directory (${targetDir}); nothing to do`);
  }

  const libSource = join(sourceDir, AGENT_LIB_DIR_NAME);
  const hasLib = await isDirectory(libSource);

  await io(`create ${targetDir}`, () => fs.mkdir(targetDir, { recursive: true }));
  await removeStaleStaging(targetDir);
  const staging = join(targetDir, STAGING_PREFIX + randomBytes(6).toString('hex'));
  await io(`create staging directory ${staging}`, () => fs.mkdir(staging, { mode: 0o700 }));

  const entries: Array<{ path: string; action: EntryAction }> = [];
  try {
    if (hasLib) {
      entries.push(...(await installLibDir(libSource, join(targetDir, AGENT_LIB_DIR_NAME), staging)));
    } else {
      out.write(`install: no ${AGENT_LIB_DIR_NAME}/ beside ${sourceBinary}; copying the executable only\n`);
    }
    const binStat = await fs.stat(sourceBinary);
    const binaryAction = await installFile(
      { rel: AGENT_BINARY_NAME, abs: sourceBinary, kind: 'file', mode: binStat.mode & 0o7777, size: binStat.size },
      join(targetDir, AGENT_BINARY_NAME),
      staging,
    );
    entries.push({ path: AGENT_BINARY_NAME, action: binaryAction });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }

  const changed = entries.filter((e) => e.action !== 'unchanged').length;
  for (const e of entries) {
    if (e.action !== 'unchanged') out.write(`install: ${e.action} ${join(targetDir, e.path)}\n`);
  }
  out.write(
    changed === 0
      ? `install: ${targetDir} is up to date (${entries.length} files unchanged)\n`
      : `install: installed ${AGENT_BINARY_NAME} from ${sourceDir} into ${targetDir} ` +
          `(${changed} changed, ${entries.length - changed} unchanged)\n`,
  );
  return { targetDir, sourceDir, entries, changed, hasLib };
}

function resolveSource(from: string | undefined, execPath: string): { sourceDir: string; sourceBinary: string } {
  if (from !== undefined && from !== '') {
    const sourceDir = resolve(from);
    return { sourceDir, sourceBinary: join(sourceDir, AGENT_BINARY_NAME) };
  }
  // Under plain node the executable's directory is node's bin dir: copying it would install node.
  if (/^node(\.exe)?$/i.test(basename(execPath))) {
    throw new UsageError(
      `install: not running as the single-executable agent (executable is ${execPath}); ` +
        `pass --from DIR pointing at a directory that contains ${AGENT_BINARY_NAME} and ${AGENT_LIB_DIR_NAME}/`,
    );
  }
  return { sourceDir: dirname(execPath), sourceBinary: execPath };
}

async function assertSourceBinary(path: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(path);
  } catch (e) {
    throw new UsageError(`install: agent executable not found at ${path}`, { cause: e });
  }
  if (!st.isFile()) throw new UsageError(`install: ${path} is not a regular file`);
}

/**
 * Bring `target` (the installed lib dir) in line with `source`. Unchanged → nothing written.
 * Otherwise a complete new dir is built in staging and swapped in with two renames.
 */
async function installLibDir(
  source: string,
  target: string,
  staging: string,
): Promise<Array<{ path: string; action: EntryAction }>> {
  const files = await listTree(source);
  const results: Array<{ path: string; action: EntryAction }> = [];
  const targetExists = await isDirectory(target);
  let dirty = !targetExists;
  for (const f of files) {
    if (f.kind === 'dir') continue;
    const action = targetExists ? await compareEntry(f, join(target, f.rel)) : 'copied';
    results.push({ path: join(AGENT_LIB_DIR_NAME, f.rel), action });
    if (action !== 'unchanged') dirty = true;
  }
  if (targetExists) {
    // Files left from an older build also make the installed lib stale; the swap drops them.
    const wanted = new Set(files.map((f) => f.rel));
    for (const f of await listTree(target)) {
      if (f.kind !== 'dir' && !wanted.has(f.rel)) {
        results.push({ path: join(AGENT_LIB_DIR_NAME, f.rel), action: 'removed' });
        dirty = true;
      }
    }
  }
  if (!dirty) return results;

  const newLib = join(staging, AGENT_LIB_DIR_NAME);
  const srcMode = (await fs.stat(source)).mode & 0o7777;
  await io(`stage ${newLib}`, async () => {
    await fs.mkdir(newLib, { mode: 0o700 });
    for (const f of files) await materialise(f, join(newLib, f.rel));
    await fs.chmod(newLib, srcMode);
  });
  const old = join(staging, `${AGENT_LIB_DIR_NAME}.old`);
  await io(`replace ${target}`, async () => {
    const hadOld = await exists(target);
    if (hadOld) await fs.rename(target, old);
    try {
      await fs.rename(newLib, target);
    } catch (e) {
      if (hadOld) await fs.rename(old, target).catch(() => undefined);
      throw e;
    }
  });
  // The whole dir was rewritten, but files whose content did not change are still reported as such.
  return results.map((r) => (r.action === 'mode-updated' ? { ...r, action: 'copied' as const } : r));
}

/** Install one regular file: skip if equal, chmod if only the mode differs, else stage + rename. */
async function installFile(f: SourceFile, target: string, staging: string): Promise<EntryAction> {
  const action = await compareEntry(f, target);
  if (action === 'unchanged') return action;
  if (action === 'mode-updated') {
    await io(`chmod ${target}`, () => fs.chmod(target, f.mode));
    return action;
  }
  const tmp = join(staging, basename(target));
  await io(`copy ${f.abs} to ${target}`, async () => {
    await materialise(f, tmp);
    await fs.rename(tmp, target);
  });
  return 'copied';
}

/** 'unchanged' when content (size + sha256, or link target) and mode match; 'mode-updated' when only mode differs. */
async function compareEntry(f: SourceFile, target: string): Promise<EntryAction> {
  let st;
  try {
    st = await fs.lstat(target);
  } catch {
    return 'copied';
  }
  if (f.kind === 'symlink') {
    return st.isSymbolicLink() && (await fs.readlink(target)) === f.linkTarget ? 'unchanged' : 'copied';
  }
  if (!st.isFile() || st.size !== f.size) return 'copied';
  if ((await sha256File(f.abs)) !== (await sha256File(target))) return 'copied';
  return (st.mode & 0o7777) === f.mode ? 'unchanged' : 'mode-updated';
}

async function materialise(f: SourceFile, dest: string): Promise<void> {
  if (f.kind === 'dir') {
    await fs.mkdir(dest, { recursive: true, mode: f.mode });
  } else if (f.kind === 'symlink') {
    await fs.mkdir(dirname(dest), { recursive: true });
    await fs.symlink(f.linkTarget as string, dest);
  } else {
    await fs.mkdir(dirname(dest), { recursive: true });
    await fs.copyFile(f.abs, dest);
    await fs.chmod(dest, f.mode);
  }
}

/** Files, symlinks and subdirectories under `root`, parents before children. Other types are ignored. */
async function listTree(root: string, rel = ''): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const dirents = await io(`read ${join(root, rel)}`, () => fs.readdir(join(root, rel), { withFileTypes: true }));
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of dirents) {
    const r = rel === '' ? d.name : join(rel, d.name);
    const abs = join(root, r);
    const st = await fs.lstat(abs);
    if (st.isSymbolicLink()) {
      out.push({ rel: r, abs, kind: 'symlink', mode: st.mode & 0o7777, size: 0, linkTarget: await fs.readlink(abs) });
    } else if (st.isDirectory()) {
      out.push({ rel: r, abs, kind: 'dir', mode: st.mode & 0o7777, size: 0 });
      out.push(...(await listTree(root, r)));
    } else if (st.isFile()) {
      out.push({ rel: r, abs, kind: 'file', mode: st.mode & 0o7777, size: st.size });
    }
  }
  return out;
}

/** Leftovers of an interrupted earlier run (the pod was killed mid-copy). */
async function removeStaleStaging(dir: string): Promise<void> {
  const names = await io(`read ${dir}`, () => fs.readdir(dir));
  for (const n of names) {
    if (STAGING_RE.test(n)) await fs.rm(join(dir, n), { recursive: true, force: true });
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AgentError) throw e;
    throw new AgentError('INTERNAL', `install: cannot ${what}`, { cause: e });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function realpathOrNull(path: string): Promise<string | null> {
  try {
    return await fs.realpath(path);
  } catch {
    return null;
  }
}
