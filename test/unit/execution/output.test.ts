import { describe, expect, it } from 'vitest';
import { BoundedCollector, exitErrorText, parseOutput, rustLines, rustTrim, truncationNotice } from '../../../src/execution/output';

const NOTICE = '\n\n[OUTPUT TRUNCATED: stdout exceeded size limit]\n';

describe('BoundedCollector (spec 03 §4.1)', () => {
  it('keeps max−128 bytes then the notice once, counting the rest (§10 item 29)', () => {
    const c = new BoundedCollector(1024, 'stdout');
    c.write(Buffer.alloc(1500, 'a'));
    c.write(Buffer.alloc(500, 'b'));
    const r = c.result();
    expect(r.content).toBe('a'.repeat(896) + NOTICE);
    expect(r.truncated).toBe(true);
    expect(r.bytesTruncated).toBe(1104);
  });

  it('does not truncate output of exactly max−128 bytes; one more byte does', () => {
    const exact = new BoundedCollector(138, 'stdout');
    exact.write(Buffer.from('1234567890'));
    expect(exact.result()).toEqual({ content: '1234567890', truncated: false, bytesTruncated: 0 });
    const over = new BoundedCollector(138, 'stdout');
    over.write(Buffer.from('1234567890'));
    over.write(Buffer.from('1'));
    expect(over.result()).toEqual({ content: `1234567890${NOTICE}`, truncated: true, bytesTruncated: 1 });
  });

  it('uses the stderr notice for stderr and returns the kept pieces for forwarding', () => {
    const c = new BoundedCollector(143, 'stderr');
    const kept = c.write(Buffer.from('Error message that is too long'));
    expect(Buffer.concat(kept).toString()).toBe(`Error message t${truncationNotice('stderr')}`);
    expect(c.write(Buffer.from('more'))).toEqual([]);
    expect(c.result().bytesTruncated).toBe(30 - 15 + 4);
  });

  it('decodes invalid UTF-8 lossily and keeps valid multi-byte text', () => {
    const c = new BoundedCollector(1024, 'stdout');
    c.write(Buffer.from([0x68, 0xc3, 0xa9, 0xff, 0xfe, 0x21]));
    expect(c.result().content).toBe('hé\uFFFD\uFFFD!');
  });
});

describe('parseOutput (spec 03 §4.2)', () => {
  it.each([
    ['json whole', 'json', '{"key": "value"}', { key: 'value' }],
    ['json last line after logs (§10 item 22)', 'json', 'log line\n{"k":"v"}\n', { k: 'v' }],
    ['json multi-line document', 'json', '{\n  "a": [1,\n 2]\n}\n', { a: [1, 2] }],
    ['json scalar', 'json', '42\n', 42],
    ['jsonl skips bad lines (§10 item 24)', 'jsonl', '{"a":1}\nbad\n{"b":2}\n', [{ a: 1 }, { b: 2 }]],
    ['yaml map (§10 item 25)', 'yaml', 'key: value\nother: 42', { key: 'value', other: 42 }],
    ['yaml plain word is a string', 'yaml', 'hello\n', 'hello'],
  ])('%s', (_name, format, stdout, expected) => {
    expect(parseOutput(stdout, format as 'json')).toEqual({ value: expected });
  });

  it.each([
    ['text never parses', 'text', '{"a":1}'],
    ['bad json (§10 item 23)', 'json', 'not json\nstill not'],
    ['jsonl with no valid line', 'jsonl', 'x\ny'],
    ['blank output', 'json', '  \n\t'],
    ['invalid yaml', 'yaml', 'a: [1, 2'],
  ])('%s → no result', (_name, format, stdout) => {
    expect(parseOutput(stdout, format as 'json')).toBeNull();
  });
});

describe('error text of a non-zero exit (spec 03 §4.3)', () => {
  it('reports the exit code when stderr is empty', () => {
    expect(exitErrorText(2, '')).toBe('Command exited with code 2');
  });

  it('keeps up to five stderr lines verbatim and only the last of more (§10 item 27)', () => {
    expect(exitErrorText(1, 'error msg\n')).toBe('error msg\n');
    expect(exitErrorText(1, '1\n2\n3\n4\n5\n')).toBe('1\n2\n3\n4\n5\n');
    expect(exitErrorText(2, '1\n2\n3\n4\n5\n6\nlast line\n')).toBe('last line');
  });

  it('splits lines like Rust str::lines', () => {
    expect(rustLines('a\r\nb\n')).toEqual(['a', 'b']);
    expect(rustLines('a\n\nb')).toEqual(['a', '', 'b']);
    expect(rustLines('')).toEqual([]);
  });
});

describe('rustTrim (Rust str::trim)', () => {
  // The character class of Unicode White_Space, as a regex: the oracle the scan must match.
  const WS = '\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
  const oracle = (s: string): string => s.replace(new RegExp(`^[${WS}]+`), '').replace(new RegExp(`[${WS}]+$`), '');

  it('removes Unicode White_Space at both ends and keeps U+FEFF, U+180E and inner spaces', () => {
    expect(rustTrim(' \t\n\u00a0a b\u3000\r\n')).toBe('a b');
    expect(rustTrim('\ufeffx\ufeff')).toBe('\ufeffx\ufeff');
    expect(rustTrim('\u180ex')).toBe('\u180ex');
    expect(rustTrim('\u2028\u2029\u202f\u205f\u1680\u0085')).toBe('');
    expect(rustTrim('')).toBe('');
  });

  it('agrees with the White_Space regex on random strings', () => {
    const alphabet = [' ', '\t', '\n', '\v', '\f', '\r', '\u0085', '\u00a0', '\u1680', '\u2000', '\u2005', '\u200a', '\u200b', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0008', '\u001f', '!', 'a', 'é'];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const len = next() % 12;
      for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
      expect(rustTrim(s)).toBe(oracle(s));
    }
  });
});
