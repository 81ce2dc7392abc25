import { describe, expect, it } from 'vitest';
import { parseVersion } from '../../../src/detect/version';

describe('parseVersion (semver-like)', () => {
  it.each([
    ['python', 'Python 3.12.1\n', '3.12.1'],
    ['node', 'v20.11.0\n', '20.11.0'],
    ['ruby', 'ruby 3.3.0 (2023-12-25 revision 5124f9ac75) [x86_64-linux]\n', '3.3.0'],
    ['go', 'go version go1.22.0 linux/amd64\n', '1.22.0'],
    ['R', 'Rscript (R) version 4.3.2 (2023-10-31)\n', '4.3.2'],
    [
      'perl',
      '\nThis is perl 5, version 36, subversion 0 (v5.36.0) built for x86_64-linux-gnu-thread-multi\n',
      '5.36.0',
    ],
    ['bash', 'GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)\nCopyright (C) 2022\n', '5.2.15'],
    ['two-part versions', 'tool 1.8 ready', '1.8'],
  ])('extracts the %s version', (_label, output, expected) => {
    expect(parseVersion(output, 'semver')).toBe(expected);
  });

  it('takes the first match in the output', () => {
    expect(parseVersion('v1.2.3\nv9.9.9\n', 'semver')).toBe('1.2.3');
  });

  it('returns null when nothing looks like a version', () => {
    expect(parseVersion('/bin/sh: 0: Illegal option --\n', 'semver')).toBeNull();
    expect(parseVersion('', 'semver')).toBeNull();
    expect(parseVersion('version 7', 'semver')).toBeNull();
  });

  it('ignores the quoted java form in semver mode', () => {
    expect(parseVersion('java version "1.8.0_392"', 'semver')).toBe('1.8.0');
  });
});

describe('parseVersion (java-style)', () => {
  it('reads the quoted OpenJDK version printed on stderr', () => {
    const stderr =
      'openjdk version "21.0.1" 2023-10-17\nOpenJDK Runtime Environment (build 21.0.1+12-29)\n';
    expect(parseVersion(stderr, 'java')).toBe('21.0.1');
  });

  it('keeps the Java 8 update suffix', () => {
    expect(parseVersion('java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 'java')).toBe('1.8.0_392');
  });

  it('falls back to the semver-like regex without a quoted version', () => {
    expect(parseVersion('java 17.0.2 2022-01-18 LTS', 'java')).toBe('17.0.2');
  });

  it('returns null when neither form matches', () => {
    expect(parseVersion('Error: could not find libjava.so', 'java')).toBeNull();
  });
});
