import { existsSync } from 'node:fs';
import which from 'which';
import { FAST_PATH_BINARIES } from './candidates';

export interface LookupOptions {
  /** The child environment; only its PATH is used for the search (spec 01 §3.6). */
  env: Readonly<Record<string, string>>;
  /** Existence check for the `/bin/bash`, `/bin/sh` fast path; injectable for tests. */
  fileExists?: (path: string) => boolean;
}

/**
 * Locate one candidate binary (spec 01 §3.2). Returns the path, or null when not found.
 *
 * Upstream spawns `which <binary>`; we search in-process with the `which` package instead,
 * because minimal images often lack a `which` binary (upstream then falls back to
 * `sh -c "command -v"`, which finds the same executable files on PATH).
 *
 * The search is synchronous on purpose (issue 18): a few dozen stat calls take well under a
 * millisecond, while the async variant makes one thread-pool round trip per PATH entry, one
 * after another, so with a long PATH the probes of later candidates started 5–15 ms after the
 * first one and detection took ~1.5× its slowest probe.
 */
export async function findBinary(binary: string, opts: LookupOptions): Promise<string | null> {
  const fileExists = opts.fileExists ?? existsSync;
  if (FAST_PATH_BINARIES.has(binary)) {
    // spec 01 §3.2 step 1: /bin/bash, /bin/sh are used as-is when present, without running anything.
    const fixed = `/bin/${binary}`;
    if (fileExists(fixed)) return fixed;
  }

  const searchPath = opts.env.PATH;
  // The `which` package falls back to process.env.PATH when `path` is undefined and treats ''
  // as "current directory"; `which(1)` with an unset or empty PATH finds nothing.
  if (searchPath === undefined || searchPath === '') return null;

  let found: string | null;
  try {
    found = which.sync(binary, { path: searchPath, nothrow: true });
  } catch {
    return null;
  }
  if (found === null || found === '') return null;
  // An empty PATH element means the current directory; `which(1)` prints `./<binary>` there.
  // Keeping a slash also stops spawn() from doing its own PATH search on a bare name.
  return found.includes('/') ? found : `./${found}`;
}
