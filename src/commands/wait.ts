/**
 * `attune-agent wait schema|packs`: block until the Attune schema exists or the packs volume is
 * populated. Replaces upstream's `wait-for-schema` (postgres:16-alpine + psql loop) and
 * `wait-for-packs` (busybox loop) init containers (spec 05 §4.2, spec 01 §7.1) so both can run
 * from the agent-init image with the agent binary alone: no shell, no postgres client.
 *
 * Checks are upstream's: `to_regclass('<schema>.identity')` is not null, and the file
 * `{packs_base_dir}/core/pack.yaml` exists. Returns an exit code (0 ready, 1 timeout); the
 * caller (cli.ts) exits with it.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';

import type { Config, DatabaseConfig } from '../config/types';
import { DbError, toError } from '../errors';
import { waitForSchema } from '../db/ready';
import type { Queryable } from '../db/rows';
import { describeTarget } from '../util/redact';
import { sleep } from '../util/sleep';

/** The slice of Config the two checks read. */
export interface WaitConfig {
  readonly packsBaseDir: Config['packsBaseDir'];
  readonly database: DatabaseConfig;
}

/** One check: ready, or not yet and why (shown in progress lines and the timeout message). */
export type ProbeResult = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface WaitOptions {
  readonly what: 'schema' | 'packs';
  readonly timeoutSec: number;
  /** Seconds between checks; default 2 (upstream's `sleep 2`). */
  readonly intervalSec?: number;
  /** `packs` only: wait for this file instead of `{packs_base_dir}/core/pack.yaml`. */
  readonly path?: string;
  readonly config: WaitConfig;
  /** Accepted for symmetry with other commands; progress goes to stderr (STYLE.md "Logging"). */
  readonly stdout?: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Seconds between progress lines while waiting; default 5. */
  readonly progressEverySec?: number;
  /** Ends the wait early (returns 1). */
  readonly signal?: AbortSignal;
  /** `schema` only: query this instead of connecting to `database.url` (tests). */
  readonly schemaDb?: Queryable;
}

interface Target {
  /** What is awaited, for messages: `file /opt/attune/packs/core/pack.yaml`. */
  readonly label: string;
  /** Operator hint naming the config keys to check. */
  readonly hint: string;
  readonly probe: () => Promise<ProbeResult>;
}

/** Wait until ready (→ 0) or until `timeoutSec` has passed (→ 1, with a message on stderr). */
export async function runWait(opts: WaitOptions): Promise<number> {
  return opts.what === 'schema' ? waitSchema(opts) : waitPacks(opts);
}

/** spec 05 §4.2 wait-for-schema, through the shared probe in db/ready.ts. */
async function waitSchema(opts: WaitOptions): Promise<number> {
  const db = opts.config.database;
  const err = opts.stderr;
  const label = `table ${db.schema}.identity in ${describeTarget(db.url)}`;
  const started = Date.now();
  try {
    await waitForSchema(opts.schemaDb ?? db, {
      schema: db.schema,
      timeoutMs: Math.max(0, opts.timeoutSec) * 1000,
      intervalMs: Math.max(0.05, opts.intervalSec ?? 2) * 1000,
      progressEveryMs: Math.max(0, opts.progressEverySec ?? 5) * 1000,
      onProgress: (message) => err.write(`wait: ${message}\n`),
      signal: opts.signal,
    });
  } catch (e) {
    if (!(e instanceof DbError)) throw e;
    err.write(
      `Error: ${e.message}\n` +
        `  Check database.url (ATTUNE__DATABASE__URL) points at the Attune database and database.schema ` +
        `(ATTUNE__DATABASE__SCHEMA, now "${db.schema}") names the schema the Attune migrations created.\n`,
    );
    return 1;
  }
  err.write(`wait: ${label} is ready (after ${seconds(Date.now() - started)})\n`);
  return 0;
}

/** spec 05 §4.2 wait-for-packs: poll for a file. */
async function waitPacks(opts: WaitOptions): Promise<number> {
  const intervalMs = Math.max(0.05, opts.intervalSec ?? 2) * 1000;
  const progressEveryMs = Math.max(0, opts.progressEverySec ?? 5) * 1000;
  const timeoutMs = Math.max(0, opts.timeoutSec) * 1000;
  const target = packsTarget(opts);
  const err = opts.stderr;

  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastProgress = -Infinity;
  let lastReason = 'not checked';
  for (;;) {
    const result = await target.probe();
    const elapsedMs = Date.now() - started;
    if (result.ready) {
      err.write(`wait: ${target.label} is ready (after ${seconds(elapsedMs)})\n`);
      return 0;
    }
    lastReason = result.reason;
    if (Date.now() >= deadline) break;
    if (Date.now() - lastProgress >= progressEveryMs) {
      err.write(`wait: waiting for ${target.label}: ${lastReason} (${seconds(elapsedMs)} of ${opts.timeoutSec}s)\n`);
      lastProgress = Date.now();
    }
    const sleptFully = await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), opts.signal);
    if (!sleptFully && opts.signal?.aborted) {
      err.write(`Error: wait for ${target.label} was interrupted (last check: ${lastReason})\n`);
      return 1;
    }
  }
  err.write(
    `Error: timed out after ${opts.timeoutSec}s waiting for ${target.label} (last check: ${lastReason}).\n` +
      `  ${target.hint}\n`,
  );
  return 1;
}

function packsTarget(opts: WaitOptions): Target {
  const custom = opts.path !== undefined && opts.path !== '';
  // spec 05 §4.2: upstream's wait-for-packs waits for the core pack's manifest.
  const file = custom ? (opts.path as string) : join(opts.config.packsBaseDir, 'core', 'pack.yaml');
  return {
    label: `file ${file}`,
    hint: custom
      ? `Check the --path argument and that the volume holding it is mounted and populated.`
      : `Check packs_base_dir (ATTUNE__PACKS_BASE_DIR, now "${opts.config.packsBaseDir}") and that the packs ` +
        `volume is mounted there and has been loaded with the core pack (Attune's pack-loader job).`,
    probe: async () => {
      try {
        const st = await fs.stat(file);
        // `[ -f … ]` in upstream's loop: a directory of that name does not count.
        return st.isFile() ? { ready: true } : { ready: false, reason: `${file} is not a regular file` };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return { ready: false, reason: code === 'ENOENT' ? `${file} does not exist yet` : toError(e).message };
      }
    },
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
