/**
 * One `node dist/attune-agent.cjs …` process of the end-to-end harness (test/support/agent.ts):
 * its stdout parsed as JSON log lines, waits on those lines, and stop/kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUNDLE } from './cli';

// ---------------------------------------------------------------- agent process

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON lines the agent wrote to stdout (pino), in order. */
  readonly logs: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Last `n` lines of stdout+stderr, for assertion messages. */
  tail(n?: number): string;
  readonly exited: Promise<AgentExit>;
  isAlive(): boolean;
  /** Resolves with the first log line matching (already seen or future); rejects on exit or timeout. */
  waitForLog(match: string | RegExp | ((l: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  /** Lines whose `msg` matches. */
  findLogs(match: string | RegExp | ((l: LogLine) => boolean)): LogLine[];
  /** Waits for "attune-agent ready: consuming executions" and returns the worker id. */
  ready(timeoutMs?: number): Promise<number>;
  /** SIGTERM, wait for the exit (SIGKILL and throw after `timeoutMs`); returns the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL (no cleanup by the agent). */
  kill(): void;
}

function matcher(match: string | RegExp | ((l: LogLine) => boolean)): (l: LogLine) => boolean {
  if (typeof match === 'function') return match;
  if (typeof match === 'string') return (l) => typeof l.msg === 'string' && l.msg.includes(match);
  return (l) => typeof l.msg === 'string' && match.test(l.msg);
}

export function spawnAgentProcess(name: string, args: readonly string[], env: Record<string, string>, cwd: string, launcher: readonly string[] = [], node = process.execPath): AgentProcess {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
  const argv = [...launcher, node, BUNDLE, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const verbose = process.env.ATTUNE_E2E_VERBOSE === '1';
  const logs: LogLine[] = [];
  const rawLines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim() === '') continue;
      rawLines.push(line);
      if (verbose) process.stderr.write(`[${name}] ${line}\n`);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const line of chunk.split('\n')) if (line.trim() !== '') rawLines.push(`stderr: ${line}`);
    if (verbose) process.stderr.write(`[${name} stderr] ${chunk}`);
  });
  let exitInfo: AgentExit | null = null;
  const exited = new Promise<AgentExit>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
      notify();
    });
  });

  const tail = (n = 40): string => rawLines.slice(-n).join('\n');
  const findLogs = (match: string | RegExp | ((l: LogLine) => boolean)): LogLine[] => logs.filter(matcher(match));
  const waitForLog = (match: string | RegExp | ((l: LogLine) => boolean), timeoutMs = 30_000): Promise<LogLine> => {
    const m = matcher(match);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = logs.find(m);
        if (hit) {
          done();
          resolve(hit);
        } else if (exitInfo) {
          done();
          reject(new Error(`agent ${name} exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before logging ${String(match)}\n${tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`agent ${name} did not log ${String(match)} within ${timeoutMs} ms\n${tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  };

  return {
    name,
    child,
    pid: child.pid ?? -1,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    tail,
    exited,
    isAlive: () => exitInfo === null,
    waitForLog,
    findLogs,
    async ready(timeoutMs = 30_000) {
      const line = await waitForLog('attune-agent ready: consuming executions', timeoutMs);
      return Number(line.workerId);
    },
    async stop(timeoutMs = 30_000) {
      if (exitInfo) return (exitInfo as AgentExit).code;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        exited,
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (result === null) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`agent ${name} did not exit within ${timeoutMs} ms of SIGTERM (killed)\n${tail()}`);
      }
      return result.code;
    },
    kill() {
      if (exitInfo === null) child.kill('SIGKILL');
    },
  };
}
