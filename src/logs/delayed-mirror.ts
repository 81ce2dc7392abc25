/**
 * Actions whose out_schema declares secrets are not mirrored live; after the process ends the
 * output is parsed, the secret paths replaced by "[REDACTED]", and the re-serialised text is
 * mirrored (spec 06 §4.4; upstream `action_output_mirror.rs` @3456cd0). Any doubt → nothing is
 * mirrored and one warning names the reason.
 */
import { yaml } from '../util/yaml';
import { getAtPointer, setAtPointer } from '../secrets/json-pointer';
import { rustLines, rustTrim } from '../execution/output';

export const MIRROR_REDACTED = '[REDACTED]';

export type DelayedMirrorDecision = { kind: 'mirror'; stdout: string; stderr: string } | { kind: 'suppressed'; reason: string };

export interface DelayedMirrorInput {
  outputFormat: string | null;
  secretPaths: readonly string[];
  logsIncomplete: boolean;
  truncated: boolean;
  stdout: string;
  stderr: string;
}

function tryJson(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return null;
  }
}

/** Records and how to write them back, or null when stdout does not parse (step 5). */
function parse(format: string, stdout: string): { records: unknown[]; render: (records: unknown[]) => string } | null {
  const trimmed = rustTrim(stdout);
  if (trimmed === '') return null;
  if (format === 'json') {
    const whole = tryJson(trimmed);
    if (whole) return { records: [whole.value], render: (r) => JSON.stringify(r[0]) };
    const nl = trimmed.lastIndexOf('\n');
    if (nl < 0) return null;
    const last = tryJson(trimmed.slice(nl + 1));
    if (!last) return null;
    const hasPrefix = trimmed.slice(0, nl).trim() !== '';
    return { records: [last.value], render: (r) => `${hasPrefix ? `${MIRROR_REDACTED}\n` : ''}${JSON.stringify(r[0])}` };
  }
  if (format === 'yaml') {
    try {
      const value = yaml().parse(trimmed, { logLevel: 'error' }) as unknown;
      return value === undefined ? null : { records: [value], render: (r) => yaml().stringify(r[0]) };
    } catch {
      return null;
    }
  }
  if (format === 'jsonl') {
    const records: unknown[] = [];
    for (const line of rustLines(trimmed)) {
      if (line.trim() === '') continue;
      const p = tryJson(line);
      if (!p) return null;
      records.push(p.value);
    }
    return records.length === 0 ? null : { records, render: (r) => r.map((x) => JSON.stringify(x)).join('\n') };
  }
  return null;
}

export function decideDelayedMirror(i: DelayedMirrorInput): DelayedMirrorDecision {
  const format = (i.outputFormat ?? 'text').toLowerCase();
  if (format === 'text') return { kind: 'suppressed', reason: 'text_output_with_secret_schema' };
  if (i.logsIncomplete) return { kind: 'suppressed', reason: 'incomplete_capture' };
  if (i.truncated) return { kind: 'suppressed', reason: 'truncated_capture' };
  const parsed = parse(format, i.stdout);
  if (!parsed) return { kind: 'suppressed', reason: 'output_parse_failed' };
  const found = new Set<string>();
  const records = parsed.records.map((rec) => {
    let r = rec;
    for (const p of i.secretPaths) {
      if (getAtPointer(r, p) === undefined) continue;
      found.add(p);
      r = setAtPointer(r, p, MIRROR_REDACTED);
    }
    return r;
  });
  if (i.secretPaths.some((p) => !found.has(p))) return { kind: 'suppressed', reason: 'secret_values_unavailable' };
  const stderr = i.stderr === '' ? '' : i.stderr.endsWith('\n') ? `${MIRROR_REDACTED}\n` : MIRROR_REDACTED;
  return { kind: 'mirror', stdout: parsed.render(records), stderr };
}
