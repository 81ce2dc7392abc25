import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors';
import { loadLocalAction, parseParameters } from '../../../src/local/pack';
import { resolveLocalParameters } from '../../../src/local/request';

const dir = mkdtempSync(join(tmpdir(), 'typed-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Declared like upstream's core pack actions (flat style) and as a JSON schema.
mkdirSync(join(dir, 'typed', 'actions'), { recursive: true });
writeFileSync(join(dir, 'typed', 'pack.yaml'), 'ref: typed\nlabel: Typed\nversion: "1.0.0"\n');
writeFileSync(join(dir, 'typed', 'actions', 'run.sh'), '#!/bin/sh\ncat\n');
writeFileSync(
  join(dir, 'typed', 'actions', 'flat.yaml'),
  `ref: typed.flat
entry_point: run.sh
parameters:
  key_ref: {type: string, required: true}
  count: {type: integer, minimum: 1, maximum: 10, default: 1}
  ratio: {type: number, exclusiveMinimum: 0}
  verbose: {type: boolean}
  level: {type: string, enum: [debug, info, warn]}
  tags: {type: array}
  opts: {type: object}
  name: {type: string, minLength: 2, maxLength: 5}
  token: {type: integer, secret: true}
  loose: {}
`,
);
writeFileSync(
  join(dir, 'typed', 'actions', 'schema.yaml'),
  `ref: typed.schema
entry_point: run.sh
parameters:
  type: object
  properties:
    year: {type: string}
    mode: {type: integer, enum: [1, 2, 3]}
  required: [year]
`,
);

const flat = loadLocalAction({ target: 'typed.flat', packsDir: dir, cwd: dir });
const schema = loadLocalAction({ target: 'typed.schema', packsDir: dir, cwd: dir });
const resolve = (action: typeof flat, params: string[], paramsFile?: string) => resolveLocalParameters(action, { cwd: dir, params, paramsFile });

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error('expected a UsageError');
}

describe('exec --param typed by the declared schema', () => {
  it('keeps `-p key_ref=2024` a string for a type: string parameter (was the integer 2024)', () => {
    expect(resolve(flat, ['key_ref=2024'])).toEqual({ key_ref: '2024', count: 1 });
    expect(resolve(schema, ['year=2024'])).toEqual({ year: '2024' });
    expect(resolve(flat, ['key_ref=true', 'name=null']).key_ref).toBe('true');
    expect(resolve(flat, ['key_ref=[1]']).key_ref).toBe('[1]');
  });

  it('converts integer, number, boolean, array and object parameters from their text', () => {
    expect(resolve(flat, ['key_ref=k', 'count=7', 'ratio=0.5', 'verbose=TRUE', 'tags=["a",1]', 'opts={"x":1}'])).toEqual({
      key_ref: 'k', count: 7, ratio: 0.5, verbose: true, tags: ['a', 1], opts: { x: 1 },
    });
  });

  it('keeps guessing only for parameters without a declared type', () => {
    expect(resolve(flat, ['key_ref=k', 'loose=3', 'extra=[1]'])).toMatchObject({ loose: 3, extra: [1] });
  });

  it('rejects text that is not the declared type, naming the parameter', () => {
    expect(usage(() => resolve(flat, ['key_ref=k', 'count=seven']))).toBe(`Invalid parameter for action 'typed.flat': 'count' expects an integer, got "seven"`);
    expect(usage(() => resolve(flat, ['key_ref=k', 'count=1.5']))).toMatch(/'count' expects an integer/);
    expect(usage(() => resolve(flat, ['key_ref=k', 'verbose=yes']))).toMatch(/'verbose' expects true or false, got "yes"/);
    expect(usage(() => resolve(flat, ['key_ref=k', 'tags=a,b']))).toMatch(/'tags' expects a JSON array/);
    expect(usage(() => resolve(flat, ['key_ref=k', 'tags={"a":1}']))).toMatch(/'tags' must be of type array/);
  });

  it('checks enum, minimum/maximum, exclusiveMinimum and length, listing every problem', () => {
    const msg = usage(() => resolve(flat, ['key_ref=k', 'count=11', 'level=loud', 'ratio=0', 'name=x']));
    expect(msg).toMatch(/^Invalid parameters for action 'typed.flat': /);
    expect(msg).toContain(`'count' must be ≤ 10, got 11`);
    expect(msg).toContain(`'level' must be one of "debug", "info", "warn", got "loud"`);
    expect(msg).toContain(`'ratio' must be > 0, got 0`);
    expect(msg).toContain(`'name' must be at least 2 characters, got 1`);
    expect(usage(() => resolve(flat, ['key_ref=k', 'count=0']))).toMatch(/'count' must be ≥ 1, got 0/);
    expect(usage(() => resolve(schema, ['year=1', 'mode=4']))).toMatch(/'mode' must be one of 1, 2, 3, got 4/);
  });

  it('checks values from --params-file too', () => {
    writeFileSync(join(dir, 'p.json'), JSON.stringify({ key_ref: 2024, count: 3 }));
    expect(usage(() => resolve(flat, [], 'p.json'))).toMatch(/'key_ref' must be of type string, got 2024/);
    expect(resolve(flat, ['key_ref=2024'], 'p.json')).toEqual({ key_ref: '2024', count: 3 });
  });

  it('never shows a secret parameter’s value in the error', () => {
    const msg = usage(() => resolve(flat, ['key_ref=k', 'token=hunter2']));
    expect(msg).toContain(`'token' expects an integer, got [REDACTED]`);
    expect(msg).not.toContain('hunter2');
  });

  it('reads the constraints from both schema styles', () => {
    expect(parseParameters({ n: { type: 'integer', minimum: 1, maximum: 3, enum: [1, 2] } })[0]).toMatchObject({ minimum: 1, maximum: 3, enum: [1, 2] });
    expect(parseParameters({ type: 'object', properties: { s: { type: 'string', maxLength: 4 } } })[0]).toMatchObject({ maxLength: 4 });
  });
});
