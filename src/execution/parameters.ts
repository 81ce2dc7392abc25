/**
 * Parameter documents handed to the action (spec 03 §2): delivery/format settings, the three
 * encodings, and the inline-shell helper wrapper (§2.4). Parameters never go on argv or into the
 * environment (§2.5).
 */
import { yaml } from '../util/yaml';
import type { OutputFormat, ParameterDelivery, ParameterFormat } from './types';

export type ParameterMap = Record<string, unknown>;

/** spec 03 §2.2: case-insensitive; null/unknown → default. */
export function parseParameterDelivery(raw: string | null | undefined): ParameterDelivery {
  return raw?.toLowerCase() === 'file' ? 'file' : 'stdin';
}

export function parseParameterFormat(raw: string | null | undefined): ParameterFormat {
  const v = raw?.toLowerCase();
  return v === 'dotenv' || v === 'yaml' ? v : 'json';
}

export function parseOutputFormat(raw: string | null | undefined): OutputFormat {
  const v = raw?.toLowerCase();
  return v === 'json' || v === 'yaml' || v === 'jsonl' ? v : 'text';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** spec 03 §2.1: the config object itself is the parameter map; anything else → no parameters. */
export function toParameterMap(parameters: unknown): ParameterMap {
  return isObject(parameters) ? parameters : {};
}

/** serde_json's text for scalars: strings verbatim, numbers/bools as text, other JSON compact. */
export function scalarText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value === undefined ? null : value);
}

function singleQuoteEscape(s: string): string {
  return s.replace(/'/g, "'\\''");
}

/** Byte-order comparison (Rust `String` ordering), not UTF-16 code-unit order. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function flattenDotenv(prefix: string, value: unknown, out: string[]): void {
  if (isObject(value)) {
    // spec 03 §2.3: nested objects flatten with `.`; an empty object produces no line.
    for (const [k, v] of Object.entries(value)) flattenDotenv(prefix === '' ? k : `${prefix}.${k}`, v, out);
    return;
  }
  const text = value === null || value === undefined ? '' : scalarText(value);
  out.push(`${prefix}='${singleQuoteEscape(text)}'`);
}

/** The parameter document in `format` (without the stdin newline). */
export function formatParameters(params: ParameterMap, format: ParameterFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(params);
    case 'dotenv': {
      const lines: string[] = [];
      for (const [k, v] of Object.entries(params)) flattenDotenv(k, v, lines);
      return lines.sort(compareBytes).join('\n');
    }
    case 'yaml':
      return formatYaml(params);
  }
}

/**
 * A multi-line string with a line of only spaces/tabs: the yaml package writes it as a block
 * scalar that reads back without those blanks (`" \n"` → `"\n"`) or does not parse at all
 * (found by test/fuzz/parameters.test.ts). Such strings are written double-quoted instead.
 */
const BLANK_LINE = /(^|\n)[ \t]+(?=\n|$)/;

/**
 * Block style, no `---`, trailing newline; lineWidth 0 keeps long strings on one line like
 * serde_yaml does (spec 03 §2.3). Output is YAML.stringify's except for the strings above.
 */
function formatYaml(params: ParameterMap): string {
  const options = { lineWidth: 0, minContentWidth: 0 };
  const YAML = yaml();
  const doc = new YAML.Document(params);
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && node.value.includes('\n') && BLANK_LINE.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString(options);
}

/** `shell_identifier`: chars outside [A-Za-z0-9_] and a leading digit become `_`; empty → `_`. */
export function shellIdentifier(key: string): string {
  let out = '';
  let index = 0;
  for (const ch of key) {
    const valid = ch === '_' || /^[A-Za-z0-9]$/.test(ch);
    out += valid && !(index === 0 && /^[0-9]$/.test(ch)) ? ch : '_';
    index++;
  }
  return out === '' ? '_' : out;
}

/**
 * spec 03 §2.4: the inline-shell wrapper. Variables are deliberately not exported, so they stay
 * out of `env` and of the action's children.
 */
export function buildShellInlineWrapper(params: ParameterMap, code: string): string {
  let script = '#!/bin/bash\nset -e\n\n# Action parameters\n';
  for (const [key, value] of Object.entries(params)) {
    const escaped = singleQuoteEscape(scalarText(value));
    const ident = shellIdentifier(key);
    script += `PARAM_${ident.toUpperCase()}='${escaped}'\n`;
    script += `${ident}='${escaped}'\n`;
  }
  script += '\n# Action code\n';
  script += code;
  return script;
}
