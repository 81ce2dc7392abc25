import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  buildShellInlineWrapper,
  formatParameters,
  parseOutputFormat,
  parseParameterDelivery,
  parseParameterFormat,
  shellIdentifier,
  toParameterMap,
} from '../../../src/execution/parameters';

describe('parameter encodings (spec 03 §2.3)', () => {
  it('renders dotenv sorted, flattened, quoted exactly like the spec example (§10 item 10)', () => {
    const doc = formatParameters({ b: 1, a: "it's", h: { x: true }, l: [1, 2], n: null }, 'dotenv');
    expect(doc).toBe("a='it'\\''s'\nb='1'\nh.x='true'\nl='[1,2]'\nn=''");
  });

  it('drops empty nested objects in dotenv and keeps key case', () => {
    expect(formatParameters({ Empty: {}, Key: 'v', nested: { 'Content-Type': 'x' } }, 'dotenv')).toBe(
      "Key='v'\nnested.Content-Type='x'",
    );
  });

  it('renders an empty parameter set as {} in json and an empty string in dotenv', () => {
    expect(formatParameters({}, 'json')).toBe('{}');
    expect(formatParameters({}, 'dotenv')).toBe('');
  });

  it('renders json compactly on one line', () => {
    const doc = formatParameters({ message: 'hi', count: 3, nested: { a: [1, 'x'] } }, 'json');
    expect(doc).not.toContain('\n');
    expect(doc).not.toContain(' ');
    expect(JSON.parse(doc)).toEqual({ message: 'hi', count: 3, nested: { a: [1, 'x'] } });
  });

  it('renders yaml in block style without a document header and with a trailing newline', () => {
    const long = 'x'.repeat(200);
    const doc = formatParameters({ count: 42, message: 'Hello', long, list: [1, 2] }, 'yaml');
    expect(doc.startsWith('---')).toBe(false);
    expect(doc.endsWith('\n')).toBe(true);
    expect(doc).toContain('count: 42\n');
    expect(doc).toContain('message: Hello\n');
    expect(doc).toContain(`long: ${long}\n`); // not folded at 80 columns
    expect(YAML.parse(doc)).toEqual({ count: 42, message: 'Hello', long, list: [1, 2] });
    expect(formatParameters({}, 'yaml')).toBe('{}\n');
  });
});

describe('settings parsing (spec 03 §2.2)', () => {
  it.each([
    ['FILE', 'file'],
    ['file', 'file'],
    ['stdin', 'stdin'],
    [null, 'stdin'],
    ['env', 'stdin'],
  ])('parameter_delivery %s → %s', (raw, expected) => {
    expect(parseParameterDelivery(raw)).toBe(expected);
  });

  it.each([
    ['DotEnv', 'dotenv'],
    ['YAML', 'yaml'],
    [null, 'json'],
    ['xml', 'json'],
  ])('parameter_format %s → %s', (raw, expected) => {
    expect(parseParameterFormat(raw)).toBe(expected);
  });

  it.each([
    ['JSON', 'json'],
    ['jsonl', 'jsonl'],
    ['yaml', 'yaml'],
    [null, 'text'],
  ])('output_format %s → %s', (raw, expected) => {
    expect(parseOutputFormat(raw)).toBe(expected);
  });

  it('treats a non-object config as no parameters (spec 03 §2.1)', () => {
    expect(toParameterMap([1, 2])).toEqual({});
    expect(toParameterMap('x')).toEqual({});
    expect(toParameterMap(null)).toEqual({});
    expect(toParameterMap({ a: 1 })).toEqual({ a: 1 });
  });
});

describe('inline shell helpers (spec 03 §2.4)', () => {
  it.each([
    ['message', 'message'],
    ['my-key', 'my_key'],
    ['1abc', '_abc'],
    ['', '_'],
    ['héllo', 'h_llo'],
  ])('identifier for %j is %j', (key, ident) => {
    expect(shellIdentifier(key)).toBe(ident);
  });

  it('writes PARAM_ and bare variables, escaped, not exported, before the code', () => {
    const script = buildShellInlineWrapper({ message: "it's", n: 3, obj: { a: 1 } }, 'echo "$message"');
    expect(script).toBe(
      "#!/bin/bash\nset -e\n\n# Action parameters\nPARAM_MESSAGE='it'\\''s'\nmessage='it'\\''s'\nPARAM_N='3'\nn='3'\n" +
        "PARAM_OBJ='{\"a\":1}'\nobj='{\"a\":1}'\n\n# Action code\necho \"$message\"",
    );
    expect(script).not.toContain('export');
  });
});
