/**
 * Locating the action file (spec 03 §1.5) with one deliberate hardening over upstream: the
 * resolved file must stay inside `{pack_dir}/actions`, both lexically and after following
 * symlinks, and must be a regular file. Upstream joins the path unchecked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError, type RuntimeFailure } from './failures';

export type CodePathResolution =
  | { kind: 'file'; path: string }
  /** Nothing at the expected path (upstream: code_path = none). */
  | { kind: 'missing'; expectedPath: string }
  /** Refused: outside the pack, a directory, a FIFO… */
  | { kind: 'invalid'; error: RuntimeFailure };

/** How upstream prints `pack_dir.join("actions").join(entrypoint)` (no normalisation). */
export function displayActionPath(packDir: string, entrypoint: string): string {
  if (entrypoint.startsWith('/')) return entrypoint;
  const base = packDir.endsWith('/') ? `${packDir}actions` : `${packDir}/actions`;
  return entrypoint === '' ? `${base}/` : `${base}/${entrypoint}`;
}

function isInside(dir: string, candidate: string): boolean {
  const rel = path.relative(dir, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Resolve `{packDir}/actions/{entrypoint}` safely. Never throws. */
export function resolveActionFile(packDir: string, entrypoint: string): CodePathResolution {
  const actionsDir = path.resolve(packDir, 'actions');
  const candidate = path.resolve(actionsDir, entrypoint);
  if (!isInside(actionsDir, candidate)) {
    return {
      kind: 'invalid',
      error: runtimeError.invalidAction(`entrypoint '${entrypoint}' resolves outside the pack actions directory ${actionsDir}`),
    };
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(candidate); // follows symlinks, like Rust `Path::exists`
  } catch {
    return { kind: 'missing', expectedPath: displayActionPath(packDir, entrypoint) };
  }
  let realDir: string;
  let realFile: string;
  try {
    // realpath(3): one call per path in C; the JS realpathSync lstat()s every component and
    // built a Stats object for each (twice ten per execution in a packs tree, issue 18).
    realFile = fs.realpathSync.native(candidate);
    // Every leading part of a real path is a real path: when the real file lies under the
    // lexical actions dir, that dir is its own real path and needs no second realpath (glibc's
    // realpath readlink()s each component: 19 syscalls per execution for the two, strace).
    realDir = isInside(actionsDir, realFile) ? actionsDir : fs.realpathSync.native(actionsDir);
  } catch {
    return { kind: 'missing', expectedPath: displayActionPath(packDir, entrypoint) };
  }
  if (!isInside(realDir, realFile)) {
    return {
      kind: 'invalid',
      error: runtimeError.invalidAction(
        `entrypoint '${entrypoint}' resolves outside the pack actions directory ${actionsDir} (symlink to ${realFile})`,
      ),
    };
  }
  if (stat.isDirectory()) {
    return { kind: 'invalid', error: runtimeError.invalidAction(`entrypoint '${entrypoint}' is a directory: ${candidate}`) };
  }
  if (!stat.isFile()) {
    return {
      kind: 'invalid',
      error: runtimeError.invalidAction(`entrypoint '${entrypoint}' is not a regular file (FIFO, socket or device): ${candidate}`),
    };
  }
  return { kind: 'file', path: candidate };
}
