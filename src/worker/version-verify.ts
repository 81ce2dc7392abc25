/**
 * `verify_all_runtime_versions` (spec 01 §8.1): probe every active `runtime_version` and
 * record the result in its global `available` flag. Runs on `pack.registered` (both modes)
 * and at Worker-mode start-up.
 */
import { toError } from '../errors';
import type { Logger } from '../log';
import { normalizeRuntimeName, runtimeAliasesMatchFilter } from '../detect/normalize';
import { listRuntimeVersions } from '../db/queries/list-runtime-versions';
import { setRuntimeVersionAvailability } from '../db/queries/set-runtime-version-availability';
import type { Queryable } from '../db/rows';
import {
  anyCommandSucceeds,
  parseVerificationCommands,
  runVerificationCommand,
  type RunCommandOptions,
  type Spawner,
} from './verification-commands';

/** spec 01 §8.1: each verification command is killed after 10 s. */
export const VERSION_VERIFY_TIMEOUT_MS = 10_000;
/** spec 01 §8.1: missing `priority` sorts as 100. */
const DEFAULT_PRIORITY = 100;

export interface VerifyAllRuntimeVersionsOptions {
  /** Child baseline environment (spec 01 §3.6). */
  childEnv: Readonly<Record<string, string>>;
  /** Runtime filter tokens (`ATTUNE_WORKER_RUNTIMES`, parsed); null = verify everything. */
  filter: readonly string[] | null;
  log: Logger;
  timeoutMs?: number;
  spawner?: Spawner;
}

export interface RuntimeVersionVerification {
  id: number;
  runtimeRef: string;
  version: string;
  available: boolean;
  /** false when writing `available` failed (logged). */
  recorded: boolean;
}

/**
 * Probe each active version (skipping those whose base name — last `.` segment of
 * `runtime_ref`, e.g. `core.nodejs` → `nodejs` — does not alias-match `filter`), write
 * `available`/`verified_at`, and return the outcomes. Per-version failures are logged and
 * never abort the loop; a failure to list versions propagates.
 */
export async function verifyAllRuntimeVersions(
  db: Queryable,
  opts: VerifyAllRuntimeVersionsOptions,
): Promise<RuntimeVersionVerification[]> {
  const versions = await listRuntimeVersions(db);
  const runOpts: RunCommandOptions = {
    env: opts.childEnv,
    timeoutMs: opts.timeoutMs ?? VERSION_VERIFY_TIMEOUT_MS,
    ...(opts.spawner ? { spawner: opts.spawner } : {}),
  };
  const results: RuntimeVersionVerification[] = [];
  for (const v of versions) {
    const baseName = runtimeBaseName(v.runtimeRef);
    if (opts.filter !== null && !runtimeAliasesMatchFilter([baseName], opts.filter)) continue;

    const commands = parseVerificationCommands(v.distributions, DEFAULT_PRIORITY);
    let available: boolean;
    if (commands.length > 0) {
      available = await anyCommandSucceeds(commands, runOpts);
    } else {
      const binary = interpreterBinary(v.executionConfig);
      // No commands: `<interpreter> --version` must exit 0; no interpreter → assumed available.
      available =
        binary === '' ||
        (await runVerificationCommand({ binary, args: ['--version'], exitCode: 0, pattern: null, priority: 0 }, runOpts));
    }

    let recorded = true;
    try {
      await setRuntimeVersionAvailability(db, v.id, available);
    } catch (e) {
      recorded = false;
      opts.log.warn({ err: toError(e), runtimeRef: v.runtimeRef, version: v.version }, 'recording runtime version availability failed');
    }
    opts.log.debug({ runtimeRef: v.runtimeRef, version: v.version, available }, 'runtime version verified');
    results.push({ id: v.id, runtimeRef: v.runtimeRef, version: v.version, available, recorded });
  }
  return results;
}

/** `core.nodejs` → `nodejs` (lower-cased). */
export function runtimeBaseName(runtimeRef: string): string {
  const parts = runtimeRef.split('.');
  return (parts[parts.length - 1] ?? runtimeRef).toLowerCase();
}

/**
 * Capability `runtime_versions` after verification (spec 01 §4.3 "later rewrites"):
 * `{ <normalised base name>: [available versions, newest first] }`.
 */
export function buildVerifiedRuntimeVersions(results: readonly RuntimeVersionVerification[]): { [name: string]: string[] } {
  const byName = new Map<string, Set<string>>();
  for (const r of results) {
    if (!r.available) continue;
    const name = normalizeRuntimeName(runtimeBaseName(r.runtimeRef));
    const set = byName.get(name) ?? new Set<string>();
    set.add(r.version);
    byName.set(name, set);
  }
  const out: { [name: string]: string[] } = {};
  for (const name of [...byName.keys()].sort()) {
    out[name] = [...(byName.get(name) ?? [])].sort((a, b) => compareVersions(b, a));
  }
  return out;
}

/** Lenient numeric comparison (`v` prefix stripped, missing components = 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/i, '').split('.');
  const pb = b.replace(/^v/i, '').split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const xa = pa[i] ?? '0';
    const xb = pb[i] ?? '0';
    const na = Number.parseInt(xa, 10);
    const nb = Number.parseInt(xb, 10);
    if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return na - nb;
    if (Number.isNaN(na) || Number.isNaN(nb)) {
      if (xa !== xb) return xa < xb ? -1 : 1;
    }
  }
  return 0;
}

function interpreterBinary(executionConfig: Record<string, unknown>): string {
  const interpreter = executionConfig.interpreter;
  if (interpreter === null || typeof interpreter !== 'object' || Array.isArray(interpreter)) return '';
  const binary = (interpreter as Record<string, unknown>).binary;
  return typeof binary === 'string' ? binary.trim() : '';
}
