/**
 * Removing a deleted pack's runtime environments (spec 07 §3.1 step 7, upstream
 * `purge_pack_runtime_environments`): `{root}/<pack_ref>`, every recorded path, and every
 * content-addressed `{root}/sha256/<key>` whose `.attune-pack-ref` names the pack. Every
 * candidate is validated (no symlink, canonical path strictly inside the canonical root,
 * recorded paths at least two components deep) BEFORE anything is removed — stricter than
 * upstream, which validates while removing — so a bad entry deletes nothing at all.
 */
import { lstat, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { PACK_REF_MARKER } from '../envs';
import { compareOrdinal } from '../util/compare';


/** A message that can never succeed (bad path, symlink…): dead-letter it, remove nothing. */
export class PurgeRejected extends Error {}

/** spec 07 §3.1 step 6: recorded paths are relative to the runtime root. Returns the problem or null. */
export function checkRecordedPath(p: string): string | null {
  if (p.trim() === '') return 'PackDeleted runtime environment paths must not be empty';
  if (isAbsolute(p) || p.startsWith('\\')) return 'PackDeleted runtime environment paths must be relative';
  if (p.includes('\0')) return 'PackDeleted runtime environment paths must not contain NUL bytes';
  return null;
}

interface Candidate {
  path: string;
  recorded: boolean;
}

async function lstatOrNull(p: string): Promise<Awaited<ReturnType<typeof lstat>> | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

async function markedContentAddressed(root: string, packRef: string): Promise<string[]> {
  const base = join(root, 'sha256');
  const st = await lstatOrNull(base);
  if (st === null || !st.isDirectory()) return [];
  const out: string[] = [];
  for (const name of await readdir(base)) {
    const marker = await readFile(join(base, name, PACK_REF_MARKER), 'utf8').catch(() => null);
    if (marker !== null && marker.trim() === packRef) out.push(join(base, name));
  }
  return out;
}

/** Validate and remove; returns the directories removed (canonical paths). Throws PurgeRejected. */
export async function purgePackRuntimeEnvironments(root: string, packRef: string, recordedPaths: readonly string[]): Promise<string[]> {
  return removePurgeTargets(await planPackRuntimePurge(root, packRef, recordedPaths));
}

/** Remove what `planPackRuntimePurge` returned, in its (deepest-first) order. */
export async function removePurgeTargets(targets: readonly string[]): Promise<string[]> {
  for (const dir of targets) await rm(dir, { recursive: true, force: true });
  return [...targets];
}

/** The validated directories to remove, deepest first (canonical paths). Throws PurgeRejected. */
export async function planPackRuntimePurge(root: string, packRef: string, recordedPaths: readonly string[]): Promise<string[]> {
  for (const p of recordedPaths) {
    const problem = checkRecordedPath(p);
    if (problem !== null) throw new PurgeRejected(`${problem}: ${JSON.stringify(p.slice(0, 200))}`);
  }
  const rootStat = await lstatOrNull(root);
  if (rootStat === null) return [];
  if (rootStat.isSymbolicLink()) throw new PurgeRejected(`runtime environment root ${root} is a symlink; refusing to purge`);
  const canonicalRoot = await realpath(root);

  const candidates: Candidate[] = [
    { path: join(root, packRef), recorded: false },
    ...recordedPaths.map((p) => ({ path: join(root, p), recorded: true })),
    ...(await markedContentAddressed(root, packRef)).map((p) => ({ path: p, recorded: false })),
  ];
  const targets = new Set<string>();
  for (const c of candidates) {
    const st = await lstatOrNull(c.path);
    if (st === null) continue;
    if (st.isSymbolicLink()) throw new PurgeRejected(`runtime environment ${c.path} is a symlink; refusing to purge`);
    const canonical = await realpath(c.path);
    const rel = relative(canonicalRoot, canonical);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new PurgeRejected(`runtime environment ${c.path} resolves to ${canonical}, outside the runtime root ${canonicalRoot}`);
    }
    if (c.recorded && rel.split(sep).length < 2) throw new PurgeRejected(`runtime environment path ${rel} is too broad to purge`);
    targets.add(canonical);
  }
  // Deepest first, so a recorded path inside `{root}/<pack>` is removed before its parent.
  return [...targets].sort((a, b) => b.split(sep).length - a.split(sep).length || compareOrdinal(a, b));
}
