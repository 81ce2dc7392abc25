/**
 * Error hierarchy (STYLE.md "Errors and exit codes"). Branch on `instanceof` or `code`,
 * never on message text. Messages are for operators: what failed, with which value, what to check.
 */
import { describeValue } from './util/describe-value';

export type AgentErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'DB_UNREACHABLE'
  | 'DB_SCHEMA_MISSING'
  | 'DB_INCOMPATIBLE'
  | 'DB_ERROR'
  | 'MQ_UNREACHABLE'
  | 'MQ_TOPOLOGY'
  | 'MQ_ERROR'
  | 'API_ERROR'
  | 'REGISTRATION_FAILED'
  | 'NOT_IMPLEMENTED'
  | 'ACTION_INVALID'
  | 'TIMEOUT'
  | 'INTERNAL';

export interface AgentErrorOptions {
  cause?: unknown;
  exitCode?: number;
}

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly exitCode: number;

  constructor(code: AgentErrorCode, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** One problem in the configuration: the key, the offending value (masked if secret), where it came from. */
export interface ConfigProblem {
  key: string;
  message: string;
  value?: string;
  source?: string;
}

export class ConfigError extends AgentError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options: AgentErrorOptions = {}) {
    super('CONFIG_INVALID', formatProblems(problems), options);
    this.problems = problems;
  }
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => {
    const where = p.source ? ` (from ${p.source})` : '';
    const value = p.value !== undefined ? ` Got ${p.value}.` : '';
    return `${p.key}: ${p.message}.${value}${where}`;
  });
  if (lines.length === 1) return `Invalid configuration: ${lines[0]}`;
  return `Invalid configuration (${lines.length} problems):\n  - ${lines.join('\n  - ')}`;
}

export class UsageError extends AgentError {
  constructor(message: string, options: AgentErrorOptions = {}) {
    super('USAGE', message, { ...options, exitCode: 2 });
  }
}

export class DbError extends AgentError {
  constructor(message: string, options: AgentErrorOptions & { code?: AgentErrorCode } = {}) {
    super(options.code ?? 'DB_ERROR', message, options);
  }
}

export class MqError extends AgentError {
  constructor(message: string, options: AgentErrorOptions & { code?: AgentErrorCode } = {}) {
    super(options.code ?? 'MQ_ERROR', message, options);
  }
}

/** Normalise anything thrown into an Error. */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e === 'string') return new Error(e);
  // Never String(e): a thrown {toString: 0} would throw again.
  return new Error(describeValue(e, 500));
}

/** `Error: msg` plus `  caused by: …` lines, as printed on stderr by the CLI. */
export function formatErrorChain(e: unknown): string {
  const lines: string[] = [];
  let cur: unknown = e;
  let depth = 0;
  while (cur !== undefined && cur !== null && depth < 8) {
    const err = toError(cur);
    lines.push(depth === 0 ? `Error: ${err.message}` : `  caused by: ${err.message}`);
    cur = (err as { cause?: unknown }).cause;
    depth++;
  }
  return lines.join('\n');
}
