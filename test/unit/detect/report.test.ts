import { describe, expect, it } from 'vitest';
import type { DetectedRuntime } from '../../../src/detect/detected-runtime';
import { describeDetectedRuntime, formatRuntimesEnvValue } from '../../../src/detect/detected-runtime';
import {
  formatDetectionJson,
  formatDetectionReport,
  formatDetectionTable,
} from '../../../src/detect/report';
import { AGENT_VERSION } from '../../../src/version';

const TWO: DetectedRuntime[] = [
  { name: 'shell', path: '/bin/bash', version: '5.2.15' },
  { name: 'python', path: '/usr/bin/python3', version: null },
];

describe('formatDetectionReport', () => {
  it('prints the upstream report for two runtimes', () => {
    expect(formatDetectionReport(TWO, { overrideSet: false })).toBe(
      '=== Attune Agent Runtime Detection Report ===\n' +
        '\n' +
        'Detected 2 runtime(s):\n' +
        '\n' +
        '  \u2713 shell      /bin/bash (5.2.15)\n' +
        '  \u2713 python     /usr/bin/python3 (unknown version)\n' +
        '\n' +
        'ATTUNE_WORKER_RUNTIMES=shell,python\n' +
        '\n',
    );
  });

  it('does not truncate names longer than the column', () => {
    const out = formatDetectionReport([{ name: 'averylongname', path: '/x', version: '1.0' }], { overrideSet: false });
    expect(out).toContain('  \u2713 averylongname /x (1.0)\n');
  });

  it('prints the install hint block when nothing was detected', () => {
    expect(formatDetectionReport([], { overrideSet: false })).toBe(
      [
        '=== Attune Agent Runtime Detection Report ===',
        '',
        'No runtimes detected!',
        '',
        'The agent could not find any supported interpreter binaries.',
        'Ensure at least one of the following is installed and on PATH:',
        '  - bash / sh       (shell scripts)',
        '  - python3 / python (Python scripts)',
        '  - node / nodejs    (Node.js scripts)',
        '  - ruby             (Ruby scripts)',
        '  - go               (Go programs)',
        '  - java             (Java programs)',
        '  - Rscript          (R scripts)',
        '  - perl             (Perl scripts)',
        '',
        'ATTUNE_WORKER_RUNTIMES=',
        '',
        '',
      ].join('\n'),
    );
  });

  it('prefixes the NOTE lines with an em dash when the override was set', () => {
    const out = formatDetectionReport(TWO.slice(0, 1), { overrideSet: true });
    expect(out).toBe(
      'NOTE: ATTUNE_WORKER_RUNTIMES is set \u2014 auto-detection was skipped during normal startup.\n' +
        '      Showing what auto-detection would find on this system:\n' +
        '\n' +
        '=== Attune Agent Runtime Detection Report ===\n' +
        '\n' +
        'Detected 1 runtime(s):\n' +
        '\n' +
        '  \u2713 shell      /bin/bash (5.2.15)\n' +
        '\n' +
        'ATTUNE_WORKER_RUNTIMES=shell\n' +
        '\n',
    );
  });
});

describe('formatDetectionJson', () => {
  it('emits the stable object with snake_case keys in a fixed order', () => {
    const text = formatDetectionJson(TWO, { durationMs: 41.6, overrideSet: false, workerRuntimes: 'shell,python' });
    expect(text.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed)).toEqual(['runtimes', 'worker_runtimes', 'override', 'duration_ms', 'agent_version']);
    expect(parsed).toEqual({
      runtimes: [
        { name: 'shell', path: '/bin/bash', version: '5.2.15' },
        { name: 'python', path: '/usr/bin/python3', version: null },
      ],
      worker_runtimes: 'shell,python',
      override: false,
      duration_ms: 42,
      agent_version: AGENT_VERSION,
    });
  });

  it('keeps a null worker_runtimes', () => {
    const parsed = JSON.parse(formatDetectionJson([], { durationMs: 3, overrideSet: true, workerRuntimes: null }));
    expect(parsed.worker_runtimes).toBeNull();
    expect(parsed.runtimes).toEqual([]);
    expect(parsed.override).toBe(true);
  });
});

describe('formatDetectionTable', () => {
  it('aligns RUNTIME, PATH and VERSION columns', () => {
    expect(formatDetectionTable(TWO)).toBe(
      'RUNTIME  PATH              VERSION\n' +
        'shell    /bin/bash         5.2.15\n' +
        'python   /usr/bin/python3  -\n',
    );
  });

  it('says so when the list is empty', () => {
    expect(formatDetectionTable([])).toBe('No runtimes detected.\n');
  });
});

describe('detected-runtime helpers', () => {
  it('joins names for the env value and formats the log display form', () => {
    expect(formatRuntimesEnvValue(TWO)).toBe('shell,python');
    expect(describeDetectedRuntime(TWO[0]!)).toBe('shell (/bin/bash, v5.2.15)');
    expect(describeDetectedRuntime(TWO[1]!)).toBe('python (/usr/bin/python3)');
  });
});
