/**
 * What the engine needs from the outside (STYLE.md "Dependency direction"). Everything here is
 * injectable so unit tests run without PostgreSQL/RabbitMQ; `agent.ts` / the `exec` runner wire
 * the real implementations in.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Logger } from '../log';
import type { OutputSinks } from './log-sink';
import type { RuntimeRegistry } from './runtimes';

export type { ExecutionRequest, ExecutionOutcome, ExecutionStatus, RedactedResultValue } from './types';

/** `child_process.spawn` shape; the engine always passes `shell: false, detached: true`. */
export type ProcessSpawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface SpawnInfo {
  pid: number;
  /** argv as spawned (interpreter, args, file). Never contains parameters (spec 03 §2.5). */
  argv: readonly string[];
}

/**
 * The OOM killer's counter for the agent's memory cgroup (src/process/oom.ts), so a SIGKILL the
 * agent did not send can be explained in the execution's error.
 */
export interface OomWatch {
  /** The counter file, for the message (e.g. /sys/fs/cgroup/memory.events). */
  readonly source: string;
  /** Kills by the OOM killer so far, null when unreadable. */
  killCount(): number | null;
  /** memory.max / memory.limit_in_bytes as text, null when unreadable. */
  memoryLimit(): string | null;
}

export interface ExecutionDeps {
  log: Logger;
  /** Fires on user cancel (spec 03 §6.3). */
  signal?: AbortSignal;
  /** Default `child_process.spawn`. */
  spawner?: ProcessSpawner;
  /** Default: the built-in runtime definitions (`createBuiltinRuntimeRegistry()`). */
  registry?: RuntimeRegistry;
  /** SIGTERM → SIGKILL grace on timeout/cancel; upstream 10 000 ms (spec 03 §6.2 step 3). */
  killGraceMs?: number;
  /** Post-exit pipe drain bound; upstream `artifacts.log_finalization_timeout_ms` = 1000 (spec 03 §4.1). */
  logFinalizationTimeoutMs?: number;
  /** Temp dir for parameter files and inline scripts; default `os.tmpdir()` (spec 03 §9). */
  tmpDir?: string;
  /** Explains SIGKILLs by the kernel's OOM killer; absent → a plain signal message. */
  oom?: OomWatch | null;
  /** Called once the child is running. */
  onSpawn?: (info: SpawnInfo) => void;
  /**
   * Where the kept output goes as it arrives (log streams, spec 06 §2); the adapter owns them
   * and finalises them after the run. Absent → file sinks for `request.logFiles`, if any. A
   * promise (sinks still being set up, e.g. log-stream rows in flight) lets the child start
   * meanwhile: its output is read from the spawn on and held until the sinks exist
   * (sink-relay.ts, issue 18). It should not reject; if it does, the run has no log copy.
   */
  sinks?: OutputSinks | Promise<OutputSinks | null> | null;
  /** Live output (bytes kept within the limit, plus the truncation notice once). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}
