import { describe, expect, it } from 'vitest';
import { exitCodeOf, planInit, UNDER_INIT_ENV, type InitFacts } from '../../../src/process/pid1';

function facts(over: Partial<InitFacts> = {}): InitFacts {
  return {
    pid: 1,
    hasExecve: true,
    isSea: true,
    execPath: '/opt/attune/agent/attune-agent',
    execArgv: ['--max-semi-space-size=8'],
    argv: ['/opt/attune/agent/attune-agent', '/opt/attune/agent/attune-agent', 'run', '--name', 'w1'],
    env: { PATH: '/usr/bin:/bin', ATTUNE__DATABASE__URL: 'postgres://db/attune' },
    isExecutable: (p) => p === '/opt/attune/agent/lib/tini',
    ...over,
  };
}

describe('PID 1 plan', () => {
  it('does nothing when not PID 1, and says when it runs under the re-exec', () => {
    expect(planInit(facts({ pid: 7 }))).toEqual({ kind: 'none', underInit: null });
    expect(planInit(facts({ pid: 2, env: { [UNDER_INIT_ENV]: '/opt/attune/agent/lib/tini' } }))).toEqual({ kind: 'none', underInit: '/opt/attune/agent/lib/tini' });
  });

  it('re-executes a SEA as `tini -- <agent> <args>` with the bundled tini (argv[1] repeats the executable)', () => {
    const plan = planInit(facts());
    expect(plan).toMatchObject({
      kind: 'execve',
      tini: '/opt/attune/agent/lib/tini',
      argv: ['/opt/attune/agent/lib/tini', '--', '/opt/attune/agent/attune-agent', 'run', '--name', 'w1'],
    });
    if (plan.kind !== 'execve') throw new Error('unreachable');
    expect(plan.env).toMatchObject({ ATTUNE__DATABASE__URL: 'postgres://db/attune', [UNDER_INIT_ENV]: '/opt/attune/agent/lib/tini' });
  });

  it('supervises under `tini -s` on a Node without execve, keeping node options and the script', () => {
    const plan = planInit(
      facts({
        hasExecve: false,
        isSea: false,
        execPath: '/usr/local/bin/node',
        execArgv: ['--enable-source-maps'],
        argv: ['/usr/local/bin/node', '/app/dist/attune-agent.cjs', 'run'],
        isExecutable: (p) => p === '/bin/tini',
      }),
    );
    // The plain bundle also gets the single executable's V8 option (v8-options.ts).
    expect(plan).toMatchObject({
      kind: 'supervise',
      tini: '/bin/tini',
      argv: ['/bin/tini', '-s', '--', '/usr/local/bin/node', '--max-semi-space-size=8', '--enable-source-maps', '/app/dist/attune-agent.cjs', 'run'],
    });
  });

  it('prefers tini-static on PATH and honours ATTUNE_AGENT_INIT', () => {
    const onPath = (p: string) => p === '/usr/bin/tini-static' || p === '/usr/bin/tini';
    expect(planInit(facts({ isExecutable: onPath }))).toMatchObject({ tini: '/usr/bin/tini-static' });
    expect(planInit(facts({ env: { ATTUNE_AGENT_INIT: '/sbin/tini' }, isExecutable: (p) => p === '/sbin/tini' }))).toMatchObject({ kind: 'execve', tini: '/sbin/tini' });
    expect(planInit(facts({ env: { ATTUNE_AGENT_INIT: 'none' } }))).toMatchObject({ kind: 'unreaped' });
  });

  it('warns with what to do when PID 1 has no tini anywhere', () => {
    const plan = planInit(facts({ isExecutable: () => false }));
    expect(plan.kind).toBe('unreaped');
    if (plan.kind !== 'unreaped') throw new Error('unreachable');
    expect(plan.message).toContain('/opt/attune/agent/lib/tini');
    expect(plan.message).toContain('docker run --init');
  });

  it('reports a signalled child as 128 + signal number', () => {
    expect(exitCodeOf(0, null, { SIGTERM: 15 })).toBe(0);
    expect(exitCodeOf(null, 'SIGTERM', { SIGTERM: 15 })).toBe(143);
  });
});
