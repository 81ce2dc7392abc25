/**
 * Helpers of test/reliability/chaos-soak.test.ts: the seeded fault schedule (PRNG) and the
 * pure pieces of its bookkeeping (the action script, the runs file, tallies, log scanning).
 */
import { existsSync, readFileSync } from 'node:fs';

export type FaultKind = 'mq' | 'pg' | 'agent';

export interface FaultRecord {
  kind: FaultKind;
  atMs: number;
  tookMs: number;
  note?: string;
}

/**
 * The fault schedule (order, kinds, gaps, PostgreSQL downtime) comes from one seeded PRNG,
 * printed at the start: ATTUNE_CHAOS_SEED (or the run's ATTUNE_FUZZ_SEED) replays it. Timing
 * against the real broker and server still varies, so a replay reproduces the schedule, not
 * every interleaving.
 */
export const CHAOS_SEED = chaosSeed(process.env.ATTUNE_CHAOS_SEED ?? process.env.ATTUNE_FUZZ_SEED);
export const random = mulberry32(CHAOS_SEED);
export const rand = (min: number, max: number): number => min + random() * (max - min);

export function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function chaosSeed(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return (Math.random() * 0x100000000) >>> 0;
  const n = Number(raw.trim());
  if (!Number.isInteger(n)) throw new Error(`ATTUNE_CHAOS_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return n >>> 0;
}

/** Small, well-known 32-bit PRNG (deterministic for a seed). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The soak's action script (bash), recording each run in `runsFile`. */
export function workScript(runsFile: string): string {
  return [
    '#!/bin/bash',
    'ms=0',
    'while IFS= read -r line; do case "$line" in ms=*) eval "ms=${line#ms=}" ;; esac; done',
    `echo "$ATTUNE_EXEC_ID" >> '${runsFile}'`,
    'sleep "$(printf \'0.%03d\' "$ms")"',
    'echo "{\\"exec\\": $ATTUNE_EXEC_ID, \\"slept_ms\\": $ms}"',
    '',
  ].join('\n');
}

/** Execution id → how many times the action ran (lines of `runsFile`). */
export function readRunCounts(runsFile: string): Map<number, number> {
  const runs = new Map<number, number>();
  for (const line of existsSync(runsFile) ? readFileSync(runsFile, 'utf8').split('\n') : []) {
    if (line.trim() === '') continue;
    runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1);
  }
  return runs;
}

/** Status → number of `ids` with it (`missing` when no row). */
export function countStatuses(ids: number[], rows: Map<number, string>): Record<string, number> {
  const statusCounts: Record<string, number> = {};
  for (const id of ids) {
    const s = rows.get(id) ?? 'missing';
    statusCounts[s] = (statusCounts[s] ?? 0) + 1;
  }
  return statusCounts;
}

/** "<status>: <error>" → number of rows (the reasons executions did not complete). */
export function countFailedReasons(rows: { status: string; error: string | null }[]): Record<string, number> {
  const failedReasons: Record<string, number> = {};
  for (const r of rows) {
    const reason = `${r.status}: ${String(r.error).slice(0, 120)}`;
    failedReasons[reason] = (failedReasons[reason] ?? 0) + 1;
  }
  return failedReasons;
}

/**
 * From the agent log: executions whose ExecutionCompleted publish a broker fault left unconfirmed
 * (`maybeDeliveredIds`), and those re-sent from the completion journal after a restart.
 */
export function completionLogNotes(log: string): { maybeDeliveredIds: Set<number>; journalResent: Set<number> } {
  const maybeDeliveredIds = new Set<number>();
  const journalResent = new Set<number>();
  for (const line of log.split('\n')) {
    if (line.includes('may not have reached the broker') || line.includes('journaled ExecutionCompleted not confirmed')) {
      const m = /"executionId":(\d+)/.exec(line);
      if (m) maybeDeliveredIds.add(Number(m[1]));
    }
    if (line.includes('ExecutionCompleted sent after restart') || line.includes('ExecutionCompleted published again after restart')) {
      const m = /"executionId":(\d+)/.exec(line);
      if (m) journalResent.add(Number(m[1]));
    }
  }
  return { maybeDeliveredIds, journalResent };
}
