/**
 * The log level, chosen and parsed as upstream does (spec 07 §4.1–§4.2), mapped onto pino.
 *
 * Precedence: the first non-blank of the CLI value (`--log-level`), `RUST_LOG`, config
 * `log.level`, built-in `info`. The chosen string is an env-logger / tracing `EnvFilter`
 * directive list: comma-separated `level` or `target[span{field=value}]=level` entries; a bare
 * word that is not a level is a target with every level enabled.
 *
 * Mapping (upstream's targets are Rust module paths, which a TS agent cannot honour 1:1): a
 * directive applies to the agent when its target is a prefix of one of upstream's worker
 * crates (`attune`, `attune_worker`, `attune_common::mq`, …) — the agent's logs stand for
 * theirs. As in `EnvFilter`, the most specific (longest-target) applicable directive wins, a
 * bare level applies when no target does, and with neither the agent logs nothing.
 * Span-qualified directives only act inside spans, which the agent has none of: validated,
 * then ignored. Other targets (`sqlx=warn`, `lapin=info`) are ignored.
 */
import type { ConfigProblem } from '../errors';

export type LogFilterLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogLevelSource = 'cli' | 'RUST_LOG' | 'config.log.level' | 'default';

export interface ResolvedLogLevel {
  /** The directive string as chosen (trimmed). */
  readonly directive: string;
  readonly source: LogLevelSource;
  /** pino level for the agent's logger (`silent` for `off` or no applicable directive). */
  readonly level: LogFilterLevel;
}

export interface LogLevelInputs {
  cli?: string | undefined;
  rustLog?: string | undefined;
  configLevel?: string | undefined;
}

/** Upstream crates whose logs the agent's logs correspond to. */
const AGENT_TARGETS = ['attune_worker', 'attune_common', 'attune_agent'];

const LEVEL_NAMES: Record<string, LogFilterLevel> = {
  off: 'silent',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
  '0': 'silent',
  '1': 'error',
  '2': 'warn',
  '3': 'info',
  '4': 'debug',
  '5': 'trace',
};
const EXPECTED_LEVEL = 'expected one of "off", "error", "warn", "info", "debug", "trace", or a number 0-5';

// target chars as tracing's regex `[\w:-]+` (Unicode word characters, `:` and `-`).
const DIRECTIVE = /^([\p{L}\p{N}_:-]+)?(\[[^\]]*\])?(?:=(.*))?$/u;
const SPAN = /^\[([^\]{]*)(?:\{([^}]*)\})?\]$/u;

interface Directive {
  target: string | null;
  hasSpan: boolean;
  level: LogFilterLevel;
}

export class LogDirectiveError extends Error {}

/** Pick the directive string by upstream's precedence; never throws. */
export function chooseLogDirective(inputs: LogLevelInputs): { directive: string; source: LogLevelSource } {
  const candidates: [string | undefined, LogLevelSource][] = [
    [inputs.cli, 'cli'],
    [inputs.rustLog, 'RUST_LOG'],
    [inputs.configLevel, 'config.log.level'],
  ];
  for (const [value, source] of candidates) {
    if (typeof value === 'string' && value.trim() !== '') return { directive: value.trim(), source };
  }
  return { directive: 'info', source: 'default' };
}

/** Parse one directive list; throws LogDirectiveError naming the bad directive. */
export function parseLogDirectives(list: string): Directive[] {
  const out: Directive[] = [];
  for (const part of list.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    out.push(parseDirective(text));
  }
  return out;
}

function parseDirective(text: string): Directive {
  const global = LEVEL_NAMES[text.toLowerCase()];
  if (global !== undefined) return { target: null, hasSpan: false, level: global };
  const m = DIRECTIVE.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) {
    throw new LogDirectiveError(`invalid filter directive '${text}' (expected level or target[span{field=value}]=level)`);
  }
  const [, target, span, levelText] = m;
  if (span !== undefined && !SPAN.test(span)) {
    throw new LogDirectiveError(`invalid span filter '${span}' in directive '${text}'`);
  }
  let level: LogFilterLevel = 'trace';
  if (levelText !== undefined && levelText !== '') {
    const parsed = LEVEL_NAMES[levelText.toLowerCase()];
    if (parsed === undefined) {
      throw new LogDirectiveError(`error parsing level filter '${levelText}' in directive '${text}': ${EXPECTED_LEVEL}`);
    }
    level = parsed;
  }
  return { target: target ?? null, hasSpan: span !== undefined, level };
}

function appliesToAgent(target: string): boolean {
  // tracing matches a directive's target as a prefix of the event's target (module path).
  return AGENT_TARGETS.some((crate) => crate.startsWith(target) || target.startsWith(`${crate}::`));
}

/** The agent's pino level for a parsed directive list (see the file comment). */
export function agentLevel(directives: readonly Directive[]): LogFilterLevel {
  let best: Directive | null = null;
  let fallback: Directive | null = null;
  for (const d of directives) {
    if (d.hasSpan) continue;
    if (d.target === null) {
      fallback = d; // a later bare level replaces an earlier one
    } else if (appliesToAgent(d.target) && (best === null || d.target.length >= (best.target as string).length)) {
      best = d;
    }
  }
  return (best ?? fallback)?.level ?? 'silent';
}

/**
 * Resolve the level, or return the one problem to report: `RUST_LOG: invalid log directive …`
 * (the key names the variable or flag the bad string came from).
 */
export function resolveLogLevel(inputs: LogLevelInputs): { resolved: ResolvedLogLevel } | { problem: ConfigProblem } {
  const { directive, source } = chooseLogDirective(inputs);
  try {
    return { resolved: { directive, source, level: agentLevel(parseLogDirectives(directive)) } };
  } catch (e) {
    if (!(e instanceof LogDirectiveError)) throw e;
    const key = source === 'cli' ? '--log-level' : source === 'config.log.level' ? 'log.level' : source;
    return {
      problem: {
        key,
        message: `invalid log directive from ${source}: ${e.message}. Use a level such as RUST_LOG=info or directives such as RUST_LOG=info,attune=debug`,
        source: source === 'RUST_LOG' ? 'env RUST_LOG' : source === 'cli' ? 'command line' : 'configuration',
      },
    };
  }
}
