import { describe, expect, it } from 'vitest';
import { checkSandbox, type SandboxFacts } from '../../../src/worker/sandbox-check';

const base: SandboxFacts = {
  uid: 0,
  gid: 0,
  tmpDir: '/tmp',
  home: '/root',
  runtimeEnvsDir: '/opt/attune/runtime_envs',
  packsBaseDir: '/opt/attune/packs',
  packsTransport: 'volume',
};

describe('checkSandbox', () => {
  it('reports nothing for root with everything writable', () => {
    expect(checkSandbox(base, () => true)).toEqual([]);
  });

  it('says that a non-root agent runs actions as itself and cannot use worker.run_as_user', () => {
    const [f] = checkSandbox({ ...base, uid: 1000, gid: 1000 }, () => true);
    expect(f).toMatchObject({ code: 'NON_ROOT', level: 'info' });
    expect(f!.message).toContain('uid 1000 gid 1000');
    expect(f!.message).toContain('worker.run_as_user is unavailable (it needs root)');
  });

  it('warns about a read-only /tmp, an unwritable HOME and runtime_envs_dir, naming the fix', () => {
    const writable = new Set(['/opt/attune/packs']);
    const found = checkSandbox({ ...base, uid: 1000, home: '/' }, (d) => writable.has(d));
    expect(found.map((f) => f.code)).toEqual(['NON_ROOT', 'TMP_NOT_WRITABLE', 'HOME_NOT_WRITABLE', 'RUNTIME_ENVS_NOT_WRITABLE']);
    expect(found[1]!.message).toContain('Mount a writable emptyDir at /tmp or set TMPDIR');
    expect(found[2]!.message).toContain('Set HOME to a writable directory');
    expect(found.every((f) => f.code === 'NON_ROOT' || f.level === 'warn')).toBe(true);
  });

  it('checks the packs dir only for the api transport (the volume transport reads a read-only mount)', () => {
    const probe = (d: string): boolean => d !== '/opt/attune/packs';
    expect(checkSandbox(base, probe)).toEqual([]);
    expect(checkSandbox({ ...base, packsTransport: 'api' }, probe).map((f) => f.code)).toEqual(['PACKS_NOT_WRITABLE']);
  });

});
