/**
 * worker.run_as_user / worker.run_as_group (config/run-as.ts): resolution against passwd/group
 * files, the start-up problems checkRunConfig reports, and the config keys.
 */
import { describe, expect, it } from 'vitest';
import { resolveRunAs, runAsProblems, type RunAsDeps } from '../../../src/config/run-as';
import { checkRunConfig } from '../../../src/config/run-checks';
import { loadConfig } from '../../../src/config/load';

const PASSWD = ['root:x:0:0:root:/root:/bin/bash', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin', 'app:x:1000:1001::/home/app:/bin/sh', ''].join('\n');
const GROUP = ['root:x:0:', 'nogroup:x:65534:', 'apps:x:1001:', 'extra:x:2000:app', ''].join('\n');

function deps(currentUid: number | undefined): RunAsDeps {
  return {
    currentUid,
    readFile: (p) => {
      if (p === '/etc/passwd') return PASSWD;
      if (p === '/etc/group') return GROUP;
      throw new Error(`unexpected read ${p}`);
    },
  };
}

const w = (runAsUser: string | null, runAsGroup: string | null = null) => ({ runAsUser, runAsGroup });

describe('resolveRunAs', () => {
  it('is off (null) when neither key is set, whatever the agent uid', () => {
    expect(resolveRunAs(w(null), deps(1000))).toBeNull();
    expect(runAsProblems(w(null), deps(1000))).toEqual([]);
  });

  it('resolves a user name to its uid and primary gid', () => {
    expect(resolveRunAs(w('app'), deps(0))).toEqual({ uid: 1000, gid: 1001 });
    expect(resolveRunAs(w('nobody'), deps(0))).toEqual({ uid: 65534, gid: 65534 });
  });

  it('takes numeric ids as they are; a known uid gets its primary group', () => {
    expect(resolveRunAs(w('1000'), deps(0))).toEqual({ uid: 1000, gid: 1001 });
    expect(resolveRunAs(w('4242', '4343'), deps(0))).toEqual({ uid: 4242, gid: 4343 });
  });

  it('a group (name or id) overrides the primary group', () => {
    expect(resolveRunAs(w('app', 'extra'), deps(0))).toEqual({ uid: 1000, gid: 2000 });
    expect(resolveRunAs(w('app', '7'), deps(0))).toEqual({ uid: 1000, gid: 7 });
  });

  it('refuses to start when the agent is not root, naming the key and the way out', () => {
    const problems = runAsProblems(w('app'), deps(1000));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.key).toBe('worker.run_as_user');
    expect(problems[0]?.message).toMatch(/agent runs as uid 1000, not root.*Run the agent as root .*or remove worker\.run_as_user/);
  });

  it('refuses unknown names, root itself, a group without a user and an unknown uid without a group', () => {
    expect(runAsProblems(w('ghost'), deps(0))[0]?.message).toContain("names user 'ghost', which is not in /etc/passwd");
    expect(runAsProblems(w('app', 'ghosts'), deps(0))[0]).toMatchObject({ key: 'worker.run_as_group' });
    expect(runAsProblems(w('root'), deps(0))[0]?.message).toContain('root (uid 0)');
    expect(runAsProblems(w('0'), deps(0))[0]?.message).toContain('root (uid 0)');
    expect(runAsProblems(w(null, 'apps'), deps(0))[0]).toMatchObject({ key: 'worker.run_as_group', message: expect.stringContaining('without worker.run_as_user') });
    expect(runAsProblems(w('4242'), deps(0))[0]).toMatchObject({ key: 'worker.run_as_group', message: expect.stringContaining('no /etc/passwd entry') });
  });
});

describe('config keys and the start-up check', () => {
  const load = (env: Record<string, string>) =>
    loadConfig({ env: { ATTUNE__MESSAGE_QUEUE__URL: 'amqp://localhost', ATTUNE__SECURITY__JWT_SECRET: 'x', ...env }, cwd: '/nonexistent', readFile: () => '', fileExists: () => false }).config;

  it('reads worker.run_as_user / run_as_group from the environment (numbers kept as text), off by default', () => {
    expect(load({}).worker).toMatchObject({ runAsUser: null, runAsGroup: null });
    expect(load({ ATTUNE__WORKER__RUN_AS_USER: 'nobody', ATTUNE__WORKER__RUN_AS_GROUP: '65534' }).worker).toMatchObject({ runAsUser: 'nobody', runAsGroup: '65534' });
    expect(load({ ATTUNE__WORKER__RUN_AS_USER: ' ' }).worker.runAsUser).toBeNull();
  });

  it('checkRunConfig reports the non-root problem with the other start-up problems', () => {
    const config = load({ ATTUNE__WORKER__RUN_AS_USER: 'app' });
    expect(checkRunConfig(config, {}, deps(1000)).map((p) => p.key)).toEqual(['worker.run_as_user']);
    expect(checkRunConfig(config, {}, deps(0))).toEqual([]);
  });
});
