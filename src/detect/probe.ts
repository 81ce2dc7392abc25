import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { RUNTIME_CANDIDATES, type RuntimeCandidate } from './candidates';
import type { DetectedRuntime } from './detected-runtime';
import { javaReleaseVersion } from './java-release';
import { findBinary } from './lookup';
import { parseVersion } from './version';
import { killProcessGroup } from '../util/process-group';

export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
/** Per stream; version banners are a few hundred bytes, this only guards against a flood. */
export const PROBE_OUTPUT_CAP_BYTES = 64 * 1024;

export interface DetectOptions {
  /** Exact environment for lookups and probes: the captured child env (spec 01 §3.6). */
  env: Record<string, string>;
  /** A version probe running longer is killed and yields version null. Default 2000. */
  probeTimeoutMs?: number;
  /** Existence check for the `/bin/bash`, `/bin/sh` fast path; injectable for tests. */
  fileExists?: (path: string) => boolean;
}

/**
 * Run `<path> <args>` and return stdout followed by stderr (spec 01 §3.3), whatever the exit
 * status. Returns null when the process cannot be spawned or exceeds `timeoutMs`.
 *
 * Deviation from upstream (spec 01 §9.7, no timeout there): a hanging interpreter must not
 * hang startup. The probe runs in its own process group so that the kill also reaches
 * anything it started (e.g. a wrapper script's child).
 */
export function runVersionProbe(
  path: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(path, [...args], {
        env: { ...env },
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch {
      // e.g. an env value containing NUL throws synchronously.
      resolve(null);
      return;
    }

    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);

    const timer = setTimeout(() => {
      killProcessGroup(child);
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish(null);
    }, timeoutMs);

    child.once('error', () => {
      killProcessGroup(child);
      finish(null);
    });
    // 'close' waits for both pipes to reach EOF, so all output has been read.
    child.once('close', () => finish(stdout.text() + stderr.text()));
  });
}

function collect(stream: NodeJS.ReadableStream | null): { text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    // Keep draining past the cap so the child never blocks on a full pipe.
    if (size >= PROBE_OUTPUT_CAP_BYTES) return;
    const room = PROBE_OUTPUT_CAP_BYTES - size;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    chunks.push(kept);
    size += kept.length;
  });
  stream?.on('error', () => {});
  // Invalid UTF-8 becomes U+FFFD, like upstream's `String::from_utf8_lossy`.
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}


/** A candidate's first binary found (spec 01 §3.2): it decides the runtime. */
export interface Located {
  readonly candidate: RuntimeCandidate;
  readonly path: string;
}

async function locate(candidate: RuntimeCandidate, opts: DetectOptions): Promise<Located | null> {
  for (const binary of candidate.binaries) {
    const path = await findBinary(binary, { env: opts.env, fileExists: opts.fileExists });
    if (path !== null) return { candidate, path };
  }
  return null;
}

/** Version of a located binary: its `release` file (java) or its version probe, which starts now. */
function probeLocated({ candidate, path }: Located, opts: DetectOptions): Promise<DetectedRuntime> {
  const fromRelease = candidate.versionFromRelease === true ? javaReleaseVersion(path) : null;
  if (fromRelease !== null) return Promise.resolve({ name: candidate.name, path, version: fromRelease });
  return runVersionProbe(path, candidate.versionArgs, opts.env, opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS).then((output) => ({
    name: candidate.name,
    path,
    version: output === null ? null : parseVersion(output, candidate.parser),
  }));
}

/**
 * Detect one candidate (spec 01 §3.2–3.3): the first binary found decides the runtime; a failing
 * version probe never falls back to the next binary. Null when no binary is found.
 */
export async function detectRuntime(candidate: RuntimeCandidate, opts: DetectOptions): Promise<DetectedRuntime | null> {
  const found = await locate(candidate, opts);
  return found === null ? null : probeLocated(found, opts);
}

/**
 * Typical cost of each runtime's version probe, slowest first (measured on the development VM:
 * `java -version` 57 ms, `node --version` 10, `perl --version` 7, `bash --version` 6; R and
 * Ruby start their whole runtime, a plain `python3` ~15 ms).
 */
const PROBE_COST_ORDER: readonly string[] = ['java', 'r', 'ruby', 'python', 'node', 'go', 'perl', 'shell'];

/** True when the file starts with `#!` (exported for tests): a wrapper script (pyenv, rbenv, asdf shims) runs at least two programs. */
export function isScript(path: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x23 && head[1] === 0x21;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * The order to start the probes of compiled binaries in, likely slowest first (PROBE_COST_ORDER):
 * each spawn blocks the event loop for the fork and the child's exec (1–5 ms), so the last probe
 * started begins that much later (issue 18). The order of the results is unchanged.
 */
export function probeStartOrder(located: readonly Located[]): Located[] {
  const rank = (l: Located): number => {
    const cost = PROBE_COST_ORDER.indexOf(l.candidate.name);
    return cost < 0 ? PROBE_COST_ORDER.length : cost;
  };
  return located
    .map((l) => ({ l, r: rank(l) }))
    .sort((a, b) => a.r - b.r)
    .map((x) => x.l);
}

/**
 * Probe all candidates of spec 01 §3.1 and return the runtimes found, in candidate order.
 * Candidates are probed in parallel (upstream probes one after another), so the total time is
 * about that of the slowest probe, bounded by `probeTimeoutMs`. A wrapper script (pyenv, rbenv,
 * asdf shims: `#!`, at least two programs, usually the slowest probe by far) is started as soon
 * as it is found, before the remaining candidates are looked up (a PATH search of all of them
 * took ~3 ms of the slowest probe's head start); the other probes start once every binary is
 * located, in probeStartOrder.
 */
export async function detectRuntimes(opts: DetectOptions): Promise<DetectedRuntime[]> {
  const probes: Promise<DetectedRuntime>[] = [];
  const binaries: Located[] = [];
  for (const candidate of RUNTIME_CANDIDATES) {
    const found = await locate(candidate, opts);
    if (found === null) continue;
    if (isScript(found.path)) probes.push(probeLocated(found, opts));
    else binaries.push(found);
  }
  for (const l of probeStartOrder(binaries)) probes.push(probeLocated(l, opts));
  const started = await Promise.all(probes);
  const position = (r: DetectedRuntime): number => RUNTIME_CANDIDATES.findIndex((c) => c.name === r.name);
  return started.sort((a, b) => position(a) - position(b));
}
