import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planInit, type InitFacts } from '../../../src/process/pid1';
import { missingV8Options, YOUNG_GENERATION_OPTION } from '../../../src/process/v8-options';

const plain = (over: Partial<InitFacts> = {}): InitFacts => ({
  pid: 4242,
  hasExecve: true,
  isSea: false,
  execPath: '/usr/local/bin/node',
  execArgv: [],
  argv: ['/usr/local/bin/node', '/app/dist/attune-agent.cjs', 'run', '--name', 'w1'],
  env: { PATH: '/usr/bin:/bin' },
  isExecutable: () => false,
  ...over,
});

describe("the single executable's V8 options for the plain bundle", () => {
  it('are the ones sea-config.json compiles into the single executable', () => {
    const sea = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'sea-config.json'), 'utf8')) as { execArgv: string[] };
    expect(sea.execArgv).toEqual([YOUNG_GENERATION_OPTION]);
  });

  it('are missing only from a plain bundle started without a semi-space size of its own', () => {
    expect(missingV8Options({ isSea: false, execArgv: [], env: {} })).toEqual(['--max-semi-space-size=8']);
    expect(missingV8Options({ isSea: true, execArgv: [], env: {} })).toEqual([]);
    expect(missingV8Options({ isSea: false, execArgv: ['--max-semi-space-size=32'], env: {} })).toEqual([]);
    expect(missingV8Options({ isSea: false, execArgv: ['--max_semi_space_size=2'], env: {} })).toEqual([]);
    expect(missingV8Options({ isSea: false, execArgv: [], env: { NODE_OPTIONS: '--enable-source-maps  --max-semi-space-size=4' } })).toEqual([]);
    expect(missingV8Options({ isSea: false, execArgv: ['--max-old-space-size=512'], env: { NODE_OPTIONS: '--trace-warnings' } })).toEqual(['--max-semi-space-size=8']);
  });

  it('not PID 1, with process.execve: re-execute the same command with the option first', () => {
    expect(planInit(plain({ execArgv: ['--enable-source-maps'] }))).toEqual({
      kind: 'v8-options',
      file: '/usr/local/bin/node',
      argv: ['/usr/local/bin/node', '--max-semi-space-size=8', '--enable-source-maps', '/app/dist/attune-agent.cjs', 'run', '--name', 'w1'],
      env: { PATH: '/usr/bin:/bin' },
      added: ['--max-semi-space-size=8'],
    });
  });

  it('not PID 1: nothing to do for the re-executed agent, the single executable, or a Node without execve', () => {
    expect(planInit(plain({ execArgv: ['--max-semi-space-size=8'] }))).toEqual({ kind: 'none', underInit: null });
    expect(planInit(plain({ isSea: true, execPath: '/opt/attune/agent/attune-agent' }))).toEqual({ kind: 'none', underInit: null });
    expect(planInit(plain({ hasExecve: false }))).toEqual({ kind: 'none', underInit: null });
  });

  it('PID 1: tini runs the agent with the option (one re-exec for both)', () => {
    const plan = planInit(plain({ pid: 1, isExecutable: (p) => p === '/usr/bin/tini' }));
    expect(plan).toMatchObject({ kind: 'execve', tini: '/usr/bin/tini', argv: ['/usr/bin/tini', '--', '/usr/local/bin/node', '--max-semi-space-size=8', '/app/dist/attune-agent.cjs', 'run', '--name', 'w1'] });
  });
});
