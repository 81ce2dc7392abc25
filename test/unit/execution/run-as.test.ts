/**
 * ExecutionRequest.runAs (worker.run_as_user): the action process gets that uid/gid and can read
 * its own 0400 parameter file (chowned to it) but not the agent's /proc/<pid>/environ. Needs
 * root to switch users: as another user the engine part is checked with a recording spawner.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { makePack, makeRequest, run, tempDir } from './helpers';

const IS_ROOT = process.getuid?.() === 0;
const NOBODY = { uid: 65534, gid: 65534 };

const REPORT = `#!/bin/bash
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "params=$(cat "$ATTUNE_PARAMETER_FILE")"
if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "agent-environ=readable"; else echo "agent-environ=denied"; fi
`;

describe('runAs', () => {
  it('passes uid/gid to spawn (recording spawner)', async () => {
    const seen: SpawnOptions[] = [];
    const packDir = makePack({ 'act.sh': { content: '#!/bin/bash\necho hi\n', mode: 0o755 } });
    const outcome = await run(makeRequest({ packDir, runAs: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } }), {
      spawner: (cmd, args, opts) => {
        seen.push(opts);
        return spawn(cmd, args, opts);
      },
    });
    expect(outcome.status).toBe('completed');
    expect(seen[0]).toMatchObject({ uid: process.getuid?.(), gid: process.getgid?.() });
  });

  it('without runAs no uid/gid is passed (the agent user)', async () => {
    const seen: SpawnOptions[] = [];
    const packDir = makePack({ 'act.sh': { content: '#!/bin/bash\necho hi\n', mode: 0o755 } });
    await run(makeRequest({ packDir }), {
      spawner: (cmd, args, opts) => {
        seen.push(opts);
        return spawn(cmd, args, opts);
      },
    });
    expect(seen[0]?.uid).toBeUndefined();
    expect(seen[0]?.gid).toBeUndefined();
  });

  it.skipIf(!IS_ROOT)('as root: the action runs as nobody, reads its chowned 0400 parameter file, cannot read the agent environ', async () => {
    const packDir = makePack({ 'act.sh': { content: REPORT, mode: 0o755 } });
    const fs = await import('node:fs');
    // The pack must be reachable for the unprivileged user (a mkdtemp dir is 0700).
    for (let d = packDir; d !== '/' && d.startsWith('/tmp/'); d = d.slice(0, d.lastIndexOf('/')) || '/') fs.chmodSync(d, 0o755);
    // Like the agent's default TMPDIR (/tmp): the parameter file's directory must be traversable.
    const tmp = tempDir('attune-runas-tmp-');
    fs.chmodSync(tmp, 0o1777);
    const outcome = await run(makeRequest({ packDir, runAs: NOBODY, parameterDelivery: 'file', parameters: { token: 'abc' } }), { tmpDir: tmp });
    const stdout = String(outcome.result.stdout);
    expect(outcome.status).toBe('completed');
    expect(stdout).toContain('uid=65534 gid=65534 groups=65534');
    expect(stdout).toContain('params={"token":"abc"}');
    expect(stdout).toContain('agent-environ=denied');
  });
});
