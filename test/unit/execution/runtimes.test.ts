import { describe, expect, it } from 'vitest';
import {
  createBuiltinRuntimeRegistry,
  createRuntimeRegistry,
  matchesFileExtension,
  parseRuntimeExecutionConfig,
  resolveBuiltinRuntimeName,
  selectRuntime,
} from '../../../src/execution/runtimes';
import { RuntimeFailure } from '../../../src/execution/failures';

const registry = createBuiltinRuntimeRegistry();

function selectError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeFailure);
    return (e as Error).message;
  }
  throw new Error('expected a RuntimeFailure');
}

describe('runtime selection (spec 03 §1.4)', () => {
  it('selects by exact lower-case name', () => {
    expect(selectRuntime(registry, 'python', 'p.a', null, 'a.py').name).toBe('python');
    expect(selectRuntime(registry, 'node.js', 'p.a', null, 'a.js').config.interpreter?.binary).toBe('node');
    expect(selectRuntime(registry, 'native', 'p.a', null, 'a').kind).toBe('native');
  });

  it('names the missing runtime and lists the available ones (§10 item 6)', () => {
    const msg = selectError(() => selectRuntime(registry, 'cobol', 'p.a', null, 'a.cbl'));
    expect(msg).toBe(
      "Runtime not found: Runtime 'cobol' not found for action: p.a (available: shell, python, node.js, go, java, r, ruby, perl, native)",
    );
  });

  it('falls back to file extensions when no runtime name is set', () => {
    expect(selectRuntime(registry, null, 'p.a', '/x/actions/a.PY', 'a.PY').name).toBe('python');
    expect(selectRuntime(registry, null, 'p.a', null, 'run.sh').name).toBe('shell');
    expect(selectRuntime(registry, null, 'p.a', '/x/actions/tool', 'tool').name).toBe('native');
    const msg = selectError(() => selectRuntime(registry, null, 'p.a', null, 'tool'));
    expect(msg).toMatch(/^Runtime not found: No runtime found for action: p\.a \(available: shell, /);
  });

  it('matches extensions case-insensitively and ignores the leading dot', () => {
    expect(matchesFileExtension({ interpreter: { file_extension: 'R' } }, 'a.r')).toBe(true);
    expect(matchesFileExtension({ interpreter: { file_extension: '.sh' } }, 'a.bash')).toBe(false);
    expect(matchesFileExtension({}, 'a.sh')).toBe(false);
  });

  it('maps pack runner types to built-in names', () => {
    expect(resolveBuiltinRuntimeName('nodejs')).toBe('node.js');
    expect(resolveBuiltinRuntimeName('Python3')).toBe('python');
    expect(resolveBuiltinRuntimeName('bash')).toBe('shell');
    expect(resolveBuiltinRuntimeName('cobol')).toBeNull();
  });
});

describe('registry from DB rows', () => {
  it('skips empty configs, keeps row order and always appends native', () => {
    const reg = createRuntimeRegistry([
      { name: 'Python', aliases: ['python', 'python3'], executionConfig: { interpreter: { binary: 'python3', file_extension: '.py' } } },
      { name: 'Native', aliases: ['native'], executionConfig: {} },
      { name: 'Shell', aliases: ['shell'], executionConfig: { interpreter: { binary: '/bin/bash' } } },
    ]);
    expect(reg.runtimes.map((r) => r.name)).toEqual(['python', 'shell', 'native']);
  });

  it('falls back to the built-in shell when no row qualifies', () => {
    expect(createRuntimeRegistry([]).runtimes.map((r) => r.name)).toEqual(['shell', 'native']);
  });

  it('filters rows by allowed runtime aliases', () => {
    const reg = createRuntimeRegistry(
      [
        { name: 'Python', aliases: ['python3'], executionConfig: { interpreter: { binary: 'python3' } } },
        { name: 'Node.js', aliases: ['node', 'nodejs'], executionConfig: { interpreter: { binary: 'node' } } },
      ],
      { allowedRuntimes: ['nodejs'] },
    );
    expect(reg.runtimes.map((r) => r.name)).toEqual(['node.js', 'native']);
  });

  it('parses stored configs defensively', () => {
    expect(parseRuntimeExecutionConfig('nope')).toEqual({});
    expect(
      parseRuntimeExecutionConfig({
        interpreter: { binary: 5, args: ['-u', 3] },
        env_vars: { A: 'x', B: { value: 'y', operation: 'prepend' }, C: 7 },
      }),
    ).toEqual({
      interpreter: { binary: '', args: [], file_extension: null },
      env_vars: { A: 'x', B: { value: 'y', operation: 'prepend', separator: ':' } },
    });
  });
});
