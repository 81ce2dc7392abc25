/**
 * Hostile input: the parameter encoders (src/execution/parameters.ts formatParameters and the
 * inline-shell wrapper). Properties, checked with the real consumers:
 *   - dotenv: a real `sh` (dash) sourcing the document gets every value back byte for byte —
 *     newlines, quotes, `=`, `$`, backslashes, unicode — for keys that are shell identifiers;
 *   - inline wrapper: bash sees PARAM_<KEY> = the value;
 *   - yaml: the `yaml` package parses the document back to the original JSON values;
 *   - json: JSON.parse gives the original back.
 * What upstream's encodings cannot round-trip (asserted below as documented limits):
 *   - dotenv values containing NUL (a shell variable cannot hold NUL);
 *   - dotenv keys that are not shell identifiers, including every nested key (`a.b=`): `sh`
 *     treats such a line as a command, not an assignment; scalars become text (`3`, `true`,
 *     null → empty), arrays become compact JSON text;
 *   - yaml for YAML 1.1 readers (PyYAML): strings such as `yes`, `on`, `NO`, `1_000`, `0b101`, `1:20` are
 *     written unquoted (the `yaml` package writes YAML 1.2) and come back as bool/int (sexagesimal
 *     `1:20` → 80).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildShellInlineWrapper, formatParameters, scalarText } from '../../src/execution/parameters';
import { CaseCounter, fcParams, RUNS } from './fuzz-helpers';

const counter = new CaseCounter();
counter.printAfterAll('parameters');
const dir = mkdtempSync(join(tmpdir(), 'attune-fuzz-params-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Shell runs are ~5 ms each: fewer cases than the pure properties, still scaled by ATTUNE_FUZZ_RUNS. */
const SHELL_RUNS = Math.max(100, Math.floor(RUNS / 4));

// Lower-case identifiers with a prefix: never a shell special variable (PATH, IFS, OPTIND…).
const identKey = fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/).map((k) => `p_${k}`);
const noNul = (s: string): boolean => !s.includes('\0');
const nastyChar = fc.constantFrom("'", '"', '\\', '$', '`', '=', '\n', '\r', '\t', ' ', '#', ';', '&', '|', '*', '?', '!', '{', '}', '(', ')', 'é', '漢', '🚀', '\u2028', '\uFEFF', '-', '%', '~');
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).filter(noNul),
  fc.array(fc.oneof(nastyChar, fc.string({ maxLength: 3 })), { maxLength: 20 }).map((a) => a.join('')).filter(noNul),
);
const scalarValue = fc.oneof(nastyString, fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: true, noDefaultInfinity: true }));

function sourceWithSh(doc: string, keys: string[]): string[] {
  const file = join(dir, 'params.env');
  writeFileSync(file, doc);
  const script = `. "$1" && printf '%s\\0' ${keys.map((k) => `"$${k}"`).join(' ')}`;
  const r = spawnSync('sh', ['-c', script, 'sh', file], { encoding: 'buffer', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`sh failed (${r.status}): ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').split('\0').slice(0, keys.length);
}

describe('dotenv: what sh gets back', () => {
  it('identifier keys with scalar values: sh gets scalarText(value) byte for byte', () => {
    fc.assert(
      fc.property(fc.dictionary(identKey, scalarValue, { minKeys: 1, maxKeys: 8 }), (params) => {
        const doc = formatParameters(params, 'dotenv');
        const keys = Object.keys(params);
        const got = counter.time('dotenv via sh', () => sourceWithSh(doc, keys), 10_000);
        expect(got).toEqual(keys.map((k) => (params[k] === null ? '' : scalarText(params[k]))));
      }),
      fcParams(SHELL_RUNS),
    );
  });

  it('documented limit: a NUL in a value does not survive sh', () => {
    const doc = formatParameters({ p_nul: 'before\0after' }, 'dotenv');
    let got: string;
    try {
      got = sourceWithSh(doc, ['p_nul'])[0] ?? '';
    } catch (e) {
      got = `<sh failed: ${(e as Error).message.trim()}>`;
    }
    console.log(`[fuzz] dotenv with NUL: sh got ${JSON.stringify(got)} for "before\\0after" (dash drops the NUL)`);
    expect(got).not.toBe('before\0after');
  });

  it('documented limit: nested keys are written as `a.b=…`, which sh does not take as an assignment', () => {
    const doc = formatParameters({ outer: { inner: 'v' } }, 'dotenv');
    expect(doc).toBe("outer.inner='v'");
    writeFileSync(join(dir, 'nested.env'), doc);
    const r = spawnSync('sh', ['-c', '. "$1"; printf "%s" "${outer-unset}"', 'sh', join(dir, 'nested.env')], { encoding: 'utf8' });
    expect(r.stdout).toBe('unset');
    expect(r.stderr).toMatch(/not found/);
  });
});

describe('inline shell wrapper: what bash gets', () => {
  it('PARAM_<KEY> holds the value for identifier keys', () => {
    fc.assert(
      fc.property(fc.dictionary(identKey, scalarValue, { minKeys: 1, maxKeys: 6 }), (params) => {
        const keys = Object.keys(params);
        const code = `printf '%s\\0' ${keys.map((k) => `"$PARAM_${k.toUpperCase()}"`).join(' ')}`;
        const file = join(dir, 'wrapper.sh');
        writeFileSync(file, buildShellInlineWrapper(params, code));
        const r = counter.time('inline wrapper via bash', () => spawnSync('bash', [file], { encoding: 'buffer', timeout: 10_000 }), 10_000);
        expect(r.status).toBe(0);
        expect(r.stdout.toString('utf8').split('\0').slice(0, keys.length)).toEqual(keys.map((k) => scalarText(params[k])));
      }),
      fcParams(SHELL_RUNS),
    );
  });
});

describe('yaml and json documents parse back to the original values', () => {
  const doc = fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });
  // -0 is written as 0 by JSON; compare JSON values.
  const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

  it('yaml: YAML.parse(formatParameters(p, "yaml")) equals p', () => {
    fc.assert(
      fc.property(fc.oneof(doc, fc.dictionary(identKey, nastyString, { maxKeys: 6 })), (params) => {
        const text = formatParameters(params, 'yaml');
        const back = counter.time('yaml round trip', () => YAML.parse(text) as unknown);
        expect(norm(back ?? {})).toEqual(norm(params));
      }),
      fcParams(),
    );
  });

  it('yaml: multi-line strings with whitespace-only lines round-trip (found by this fuzzer)', () => {
    const values = [' \n', '  \t\n', '\n \n', ' \n\t\n', 'a\n  \nb', ' \n\n'];
    const params = Object.fromEntries(values.map((v, i) => [`k${i}`, v]));
    const text = counter.time('yaml round trip', () => formatParameters({ ...params, nested: { list: values } }, 'yaml'));
    expect(YAML.parse(text)).toEqual({ ...params, nested: { list: values } });
    // Everything else keeps the block style upstream (serde_yaml) uses.
    expect(formatParameters({ m: 'line one\nline two\n' }, 'yaml')).toBe('m: |\n  line one\n  line two\n');
  });

  it('json: JSON.parse(formatParameters(p, "json")) equals p', () => {
    fc.assert(
      fc.property(doc, (params) => {
        const back = counter.time('json round trip', () => JSON.parse(formatParameters(params, 'json')) as unknown);
        expect(back).toEqual(norm(params));
      }),
      fcParams(),
    );
  });

  it('documented limit: YAML 1.1 readers (PyYAML) read some plain strings as other types', () => {
    const risky = ['yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'NO', '1_000', '0b101', '0x1F', '012', '1:20', '2001-12-14', '~', 'null', 'true', '.inf', '-.5', '+1', '1e3', '0o17'];
    const text = formatParameters({ values: risky }, 'yaml');
    expect((YAML.parse(text) as { values: string[] }).values).toEqual(risky); // the yaml package: exact
    const py = spawnSync('python3', ['-c', 'import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())["values"], default=str))'], { input: text, encoding: 'utf8' });
    if (py.status !== 0) {
      console.log(`[fuzz] PyYAML not available (${py.stderr.trim().split('\n').pop()}); YAML 1.1 check skipped`);
      return;
    }
    const pyValues = JSON.parse(py.stdout) as unknown[];
    const changed = risky.map((s, i) => [s, pyValues[i]] as const).filter(([s, v]) => v !== s);
    console.log(`[fuzz] yaml strings PyYAML (YAML 1.1) reads as another type: ${changed.map(([s, v]) => `${s} → ${JSON.stringify(v)}`).join(', ')}`);
    expect(changed.length).toBeGreaterThan(0);
  });
});
