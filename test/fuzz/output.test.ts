/**
 * Hostile input: action output (src/execution/output.ts). parseOutput never throws, never hangs,
 * and whatever it returns can be stored (JSON.stringify — the DB write and the completion
 * message — must not fail): output nested deeper than serde's recursion limit is not parsed,
 * as upstream. JSON/JSONL/YAML values printed by an action come back equal. The bounded
 * collector keeps at most max bytes, a prefix of what was written, and counts the rest.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { BoundedCollector, exitErrorText, MAX_OUTPUT_NESTING, parseOutput, truncationNotice } from '../../src/execution/output';
import type { OutputFormat } from '../../src/execution/types';
import { CaseCounter, fcParams, RUNS } from './fuzz-helpers';

const counter = new CaseCounter();
counter.printAfterAll('output');

const FORMATS: OutputFormat[] = ['text', 'json', 'yaml', 'jsonl'];
const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function storable(r: { value: unknown } | null): void {
  if (r === null) return;
  expect(() => JSON.stringify(r.value)).not.toThrow();
}

const junkLine = fc.string({ maxLength: 60 }).filter((s) => !s.includes('\n'));
const outputText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(fc.oneof(junkLine, fc.json({ maxDepth: 3 })), { maxLength: 10 }).map((ls) => ls.join('\n')),
  fc.jsonValue({ maxDepth: 4 }).map((v) => YAML.stringify(v)),
);

describe('parseOutput on hostile output', () => {
  it('arbitrary output in every format: no throw, bounded time, storable result', () => {
    fc.assert(
      fc.property(outputText, fc.constantFrom(...FORMATS), (text, format) => {
        const r = counter.time(`parseOutput(${format})`, () => parseOutput(text, format));
        if (format === 'text') expect(r).toBeNull();
        storable(r);
      }),
      fcParams(RUNS * 4),
    );
  });

  it('json: a JSON value printed alone, or as the last line after log lines, comes back equal', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.array(junkLine.filter((l) => { try { JSON.parse(l); return false; } catch { return true; } }), { maxLength: 4 }), (v, logLines) => {
        const alone = counter.time('parseOutput(json value)', () => parseOutput(JSON.stringify(v), 'json'));
        expect(alone === null ? null : norm(alone.value)).toEqual(norm(v));
        const last = counter.time('parseOutput(json last line)', () => parseOutput([...logLines, JSON.stringify(v)].join('\n'), 'json'));
        expect(last === null ? null : norm(last.value)).toEqual(norm(v));
      }),
      fcParams(),
    );
  });

  it('jsonl: every JSON line is kept in order, other lines are skipped', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v })), junkLine.map((l) => ({ l }))), { maxLength: 12 }), (items) => {
        const lines = items.map((i) => ('v' in i ? JSON.stringify(i.v) : i.l));
        const expected = lines.flatMap((l) => {
          try {
            return [JSON.parse(l.trim()) as unknown];
          } catch {
            return [];
          }
        });
        const r = counter.time('parseOutput(jsonl)', () => parseOutput(lines.join('\n'), 'jsonl'));
        expect(r === null ? [] : norm(r.value)).toEqual(norm(expected));
      }),
      fcParams(),
    );
  });

  it('yaml: a document printed by the yaml package comes back equal', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 4 }), { minKeys: 1, maxKeys: 6 }), (v) => {
        const r = counter.time('parseOutput(yaml value)', () => parseOutput(YAML.stringify(v), 'yaml'));
        expect(r === null ? null : norm(r.value)).toEqual(norm(v));
      }),
      fcParams(),
    );
  });

  it(`nesting: up to ${MAX_OUTPUT_NESTING} levels is parsed, deeper is not (serde's recursion limit) — even 100 000 levels stay storable`, () => {
    const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    expect(counter.time('nesting', () => parseOutput(nested(MAX_OUTPUT_NESTING), 'json'))).not.toBeNull();
    expect(counter.time('nesting', () => parseOutput(nested(MAX_OUTPUT_NESTING + 1), 'json'))).toBeNull();
    for (const format of ['json', 'jsonl', 'yaml'] as const) {
      const r = counter.time('nesting', () => parseOutput(nested(100_000), format));
      expect(r).toBeNull();
    }
    const deepObject = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    expect(counter.time('nesting', () => parseOutput(deepObject, 'json'))).toBeNull();
  });

  it('a YAML alias bomb is refused quickly', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const r = counter.time('yaml alias bomb', () => parseOutput(lines.join('\n'), 'yaml'));
    expect(r).toBeNull();
  });
});

describe('exitErrorText and the bounded collector', () => {
  it('exitErrorText never throws and is a line of stderr (or the exit code text)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 255 }), fc.string({ maxLength: 300 }), (code, stderr) => {
        const t = counter.time('exitErrorText', () => exitErrorText(code, stderr));
        if (stderr === '') expect(t).toBe(`Command exited with code ${code}`);
        else expect(stderr.includes(t) || t === '').toBe(true);
      }),
      fcParams(),
    );
  });

  // Chunks are non-empty, as a pipe delivers them: an EMPTY write at exactly max−128 bytes
  // already adds the notice (a harmless edge: Node never emits empty pipe chunks).
  it('BoundedCollector keeps ≤ max bytes: a prefix of the input, then the notice once; counts the rest', () => {
    fc.assert(
      fc.property(fc.integer({ min: 128, max: 4096 }), fc.array(fc.uint8Array({ minLength: 1, maxLength: 700 }), { maxLength: 20 }), (max, chunks) => {
        const c = new BoundedCollector(max, 'stdout');
        counter.time('BoundedCollector', () => {
          for (const ch of chunks) c.write(Buffer.from(ch));
        });
        const all = Buffer.concat(chunks.map((ch) => Buffer.from(ch)));
        const out = c.result();
        const notice = Buffer.from(truncationNotice('stdout'));
        const keptData = Math.max(0, max - 128);
        if (all.length <= keptData) {
          expect(out.truncated).toBe(false);
          expect(out.content).toBe(all.toString('utf8'));
        } else {
          expect(out.truncated).toBe(true);
          expect(out.bytesTruncated).toBe(all.length - keptData);
          expect(out.content).toBe(Buffer.concat([all.subarray(0, keptData), notice]).toString('utf8'));
          expect(keptData + notice.length).toBeLessThanOrEqual(max);
        }
      }),
      fcParams(),
    );
  });
});
