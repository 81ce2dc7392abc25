import { describe, expect, it } from 'vitest';
import { normalizeRuntimeName, parseRuntimeList, runtimeAliasesMatchFilter } from '../../../src/detect/normalize';

describe('normalizeRuntimeName', () => {
  it.each([
    ['node', 'node'],
    ['nodejs', 'node'],
    ['Node.js', 'node'],
    ['python3', 'python'],
    [' PYTHON ', 'python'],
    ['bash', 'shell'],
    ['sh', 'shell'],
    ['builtin', 'native'],
    ['standalone', 'native'],
    ['rb', 'ruby'],
    ['golang', 'go'],
    ['OpenJDK', 'java'],
    ['jdk', 'java'],
    ['perl5', 'perl'],
    ['Rscript', 'r'],
    ['R', 'r'],
  ])('maps %j to %j', (input, expected) => {
    expect(normalizeRuntimeName(input)).toBe(expected);
  });

  it('returns unknown names trimmed and lowercased', () => {
    expect(normalizeRuntimeName('  Elixir ')).toBe('elixir');
    expect(normalizeRuntimeName('python3.12')).toBe('python3.12');
  });
});

describe('runtimeAliasesMatchFilter', () => {
  it('matches through aliases on both sides', () => {
    expect(runtimeAliasesMatchFilter(['node', 'nodejs', 'node.js'], ['nodejs'])).toBe(true);
    expect(runtimeAliasesMatchFilter(['Node.js'], ['node'])).toBe(true);
    expect(runtimeAliasesMatchFilter(['rscript'], ['R'])).toBe(true);
  });

  it('rejects when no alias shares a canonical name with the filter', () => {
    expect(runtimeAliasesMatchFilter(['python', 'python3'], ['node', 'shell'])).toBe(false);
    expect(runtimeAliasesMatchFilter(['python'], [])).toBe(false);
    expect(runtimeAliasesMatchFilter([], ['python'])).toBe(false);
  });
});

describe('parseRuntimeList', () => {
  it('splits on commas, trims, lowercases and drops empties', () => {
    expect(parseRuntimeList(' Shell, PYTHON ,,node ,')).toEqual(['shell', 'python', 'node']);
  });

  it('keeps tokens as given without alias mapping', () => {
    expect(parseRuntimeList('nodejs,python3')).toEqual(['nodejs', 'python3']);
  });

  it('yields an empty list for an empty or blank value', () => {
    expect(parseRuntimeList('')).toEqual([]);
    expect(parseRuntimeList(' , ')).toEqual([]);
  });
});
