import { describe, expect, it } from 'vitest';
import { agentLevel, chooseLogDirective, parseLogDirectives, resolveLogLevel } from '../../../src/config/log-filter';
import { loadConfig } from '../../../src/config/load';
import { ConfigError } from '../../../src/errors';

function level(directive: string): string {
  return agentLevel(parseLogDirectives(directive));
}

function loadWith(env: Record<string, string>, file = 'log:\n  level: warn\n', logLevel?: string) {
  return loadConfig({
    env,
    cwd: '/w',
    readFile: () => file,
    fileExists: (p) => p === '/w/config.yaml',
    ...(logLevel !== undefined ? { logLevel } : {}),
  });
}

describe('log level precedence (spec 07 §4.1)', () => {
  it('takes the first non-blank of CLI, RUST_LOG, log.level, else info', () => {
    expect(chooseLogDirective({ cli: 'error', rustLog: 'debug', configLevel: 'warn' })).toEqual({ directive: 'error', source: 'cli' });
    expect(chooseLogDirective({ rustLog: ' debug ', configLevel: 'warn' })).toEqual({ directive: 'debug', source: 'RUST_LOG' });
    expect(chooseLogDirective({ rustLog: '   ', configLevel: 'warn' })).toEqual({ directive: 'warn', source: 'config.log.level' });
    expect(chooseLogDirective({})).toEqual({ directive: 'info', source: 'default' });
  });

  it('RUST_LOG=debug beats log.level: warn; a blank RUST_LOG leaves log.level in charge', () => {
    expect(loadWith({ RUST_LOG: 'debug' }).config.log.filter).toEqual({ directive: 'debug', source: 'RUST_LOG', level: 'debug' });
    expect(loadWith({ RUST_LOG: '  ' }).config.log.filter).toEqual({ directive: 'warn', source: 'config.log.level', level: 'warn' });
    expect(loadWith({ RUST_LOG: 'trace' }, '', 'error').config.log.filter.source).toBe('cli');
  });

  it('still validates log.level when RUST_LOG overrides it (upstream order)', () => {
    expect(() => loadWith({ RUST_LOG: 'debug' }, 'log:\n  level: loud\n')).toThrow(/log\.level: must be one of/);
  });
});

describe('directive syntax mapped onto the agent (spec 07 §4.2)', () => {
  it('maps bare levels, numbers and off', () => {
    expect(level('error')).toBe('error');
    expect(level('WARN')).toBe('warn');
    expect(level('4')).toBe('debug');
    expect(level('off')).toBe('silent');
  });

  it('applies attune* targets (prefix of upstream crate names), most specific first', () => {
    expect(level('attune=debug')).toBe('debug');
    expect(level('info,attune=debug')).toBe('debug');
    expect(level('trace,sqlx=warn')).toBe('trace');
    expect(level('attune=debug,attune_worker=error')).toBe('error');
    expect(level('attune_worker::service=trace,warn')).toBe('trace');
    expect(level('attune')).toBe('trace'); // a bare target enables every level
    expect(level('attune=')).toBe('trace');
  });

  it('logs nothing when no directive applies to the agent, as EnvFilter does', () => {
    expect(level('sqlx=warn')).toBe('silent');
    expect(level('attune_api=debug')).toBe('silent');
    expect(level('hyper')).toBe('silent');
  });

  it('ignores span-scoped directives (the agent has no spans) but keeps the rest', () => {
    expect(level('warn,attune[execute{id=1}]=trace')).toBe('warn');
    expect(level('[span]=debug,error')).toBe('error');
  });

  it('tolerates blanks around directives and empty entries', () => {
    expect(level('info, attune=debug,,')).toBe('debug');
  });

  it.each([
    ['foo=notalevel', /error parsing level filter 'notalevel'/],
    ['attune[span=debug', /invalid filter directive/],
    ['attune[a{b]=debug', /invalid span filter/],
    ['a b=info', /invalid filter directive 'a b=info'/],
    ['=debug', /invalid filter directive/],
  ])('rejects %s', (bad, msg) => {
    expect(() => parseLogDirectives(bad)).toThrow(msg);
  });

  it('reports an invalid RUST_LOG as one config problem naming the variable', () => {
    const r = resolveLogLevel({ rustLog: 'foo=bar', configLevel: 'info' });
    expect('problem' in r && r.problem).toMatchObject({ key: 'RUST_LOG', source: 'env RUST_LOG' });
    let err: unknown;
    try {
      loadWith({ RUST_LOG: 'attune=loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.problems).toHaveLength(1);
    expect(ce.exitCode).toBe(1);
    expect(ce.message).toMatch(/^Invalid configuration: RUST_LOG: invalid log directive from RUST_LOG: error parsing level filter 'loud'/);
    expect(ce.message).toContain('(from env RUST_LOG)');
  });
});
