/**
 * `exec --param key=value` typed by the action's declared parameter schema, and the checks
 * the platform applies before a dispatch (type, `enum`, `minimum`/`maximum`,
 * `exclusiveMinimum`/`exclusiveMaximum`, `minLength`/`maxLength`). Guessing the type from the
 * text sent `-p key_ref=2024` for a `type: string` parameter as the integer 2024 (issue 14).
 * Undeclared parameters and parameters without a type keep the guess (JSON when it parses).
 */
import { describeValue } from '../util/describe-value';
import type { LocalParameter } from './pack';

export type CoerceResult = { ok: true; value: unknown } | { ok: false; problem: string };

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The flag's text as the declared type (no guessing for typed parameters). */
export function coerceFlagValue(param: LocalParameter | undefined, text: string, guess: () => unknown): CoerceResult {
  const show = shown(param);
  switch (param?.type) {
    case 'string':
      return { ok: true, value: text };
    case 'integer': {
      const t = text.trim();
      const n = Number(t);
      if (!INTEGER.test(t) || !Number.isSafeInteger(n)) return { ok: false, problem: `expects an integer, got ${show(text)}` };
      return { ok: true, value: n };
    }
    case 'number': {
      const t = text.trim();
      if (!NUMBER.test(t)) return { ok: false, problem: `expects a number, got ${show(text)}` };
      return { ok: true, value: Number(t) };
    }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (t === 'true') return { ok: true, value: true };
      if (t === 'false') return { ok: true, value: false };
      return { ok: false, problem: `expects true or false, got ${show(text)}` };
    }
    case 'array':
    case 'object': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return { ok: false, problem: `expects a JSON ${param.type}, got ${show(text)}` };
      }
      return { ok: true, value: v };
    }
    default:
      return { ok: true, value: guess() };
  }
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'null':
      return v === null;
    default:
      return true; // unknown type names are not ours to judge
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return describeValue(a, Number.MAX_SAFE_INTEGER) === describeValue(b, Number.MAX_SAFE_INTEGER);
}

/** How a value of `param` is shown in a message: never a secret parameter's value. */
function shown(param: LocalParameter | undefined): (v: unknown) => string {
  return param?.secret ? () => '[REDACTED]' : (v) => describeValue(v);
}

/** Problems of one supplied value against its declaration (empty when it is valid). */
export function checkParamValue(param: LocalParameter, value: unknown): string[] {
  const show = shown(param);
  const problems: string[] = [];
  if (param.type !== null && !typeMatches(param.type, value)) {
    return [`must be of type ${param.type}, got ${show(value)}`];
  }
  if (param.enum !== undefined && !param.enum.some((allowed) => sameJson(allowed, value))) {
    problems.push(`must be one of ${param.enum.map((e) => describeValue(e)).join(', ')}, got ${show(value)}`);
  }
  if (typeof value === 'number') {
    const got = show(value);
    if (param.minimum !== undefined && value < param.minimum) problems.push(`must be ≥ ${param.minimum}, got ${got}`);
    if (param.maximum !== undefined && value > param.maximum) problems.push(`must be ≤ ${param.maximum}, got ${got}`);
    if (param.exclusiveMinimum !== undefined && value <= param.exclusiveMinimum) problems.push(`must be > ${param.exclusiveMinimum}, got ${got}`);
    if (param.exclusiveMaximum !== undefined && value >= param.exclusiveMaximum) problems.push(`must be < ${param.exclusiveMaximum}, got ${got}`);
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (param.minLength !== undefined && len < param.minLength) problems.push(`must be at least ${param.minLength} characters, got ${len}`);
    if (param.maxLength !== undefined && len > param.maxLength) problems.push(`must be at most ${param.maxLength} characters, got ${len}`);
  }
  return problems;
}
