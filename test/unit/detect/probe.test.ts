import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureChildBaseEnv } from '../../../src/execution/child-env';
import { detectRuntimes, runVersionProbe } from '../../../src/detect/probe';
import { findBinary } from '../../../src/detect/lookup';
import { createFakeBinDir, noFastPath, type FakeBinDir } from '../../support/fake-bin';

let bin: FakeBinDir;
beforeEach(() => {
  bin = createFakeBinDir();
});
afterEach(() => {
  bin.remove();
});

/** True once `pid` has exited (absent, or a zombie nobody has reaped yet). */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitUntilGone(pid: number, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    if (isGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return isGone(pid);
}

describe('detectRuntimes with fake interpreters', () => {
  it('finds each interpreter on the child PATH, in candidate order, with parsed versions', async () => {
    bin.add('perl', "echo 'This is perl 5, version 36, subversion 0 (v5.36.0) built for x86_64-linux'");
    bin.add('Rscript', "echo 'Rscript (R) version 4.3.2 (2023-10-31)'");
    bin.add('java', "echo 'openjdk version \"21.0.1\" 2023-10-17' >&2");
    bin.add('go', '[ "$1" = version ] && echo "go version go1.22.0 linux/amd64"');
    bin.add('ruby', "echo 'ruby 3.3.0 (2023-12-25 revision 5124f9ac75) [x86_64-linux]'; exit 3");
    bin.add('node', 'echo v20.11.0');
    bin.add('python3', 'echo Python 3.12.1');

    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });

    expect(found).toEqual([
      { name: 'python', path: `${bin.dir}/python3`, version: '3.12.1' },
      { name: 'node', path: `${bin.dir}/node`, version: '20.11.0' },
      { name: 'ruby', path: `${bin.dir}/ruby`, version: '3.3.0' },
      { name: 'go', path: `${bin.dir}/go`, version: '1.22.0' },
      { name: 'java', path: `${bin.dir}/java`, version: '21.0.1' },
      { name: 'r', path: `${bin.dir}/Rscript`, version: '4.3.2' },
      { name: 'perl', path: `${bin.dir}/perl`, version: '5.36.0' },
    ]);
  });

  it('searches only the PATH of the given env, not the agent PATH', async () => {
    expect(process.env.PATH).toBeTruthy();
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(found).toEqual([]);
    expect(await detectRuntimes({ env: {}, fileExists: noFastPath })).toEqual([]);
  });

  it('runs the probe with exactly the given env', async () => {
    expect(process.env.HOME).toBeTruthy();
    bin.add('node', 'if [ -n "$HOME" ]; then echo v9.9.9; else echo "v$FAKE_NODE_VERSION"; fi');
    const [node] = await detectRuntimes({
      env: { PATH: bin.dir, FAKE_NODE_VERSION: '4.5.6' },
      fileExists: noFastPath,
    });
    expect(node).toEqual({ name: 'node', path: `${bin.dir}/node`, version: '4.5.6' });
  });

  it('puts stdout before stderr when parsing', async () => {
    bin.add('ruby', 'echo v7.7.7 >&2; /bin/sleep 0.05; echo v1.2.3');
    const [ruby] = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(ruby?.version).toBe('1.2.3');
  });

  it('uses python when python3 is missing', async () => {
    bin.add('python', 'echo Python 2.7.18 >&2');
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(found).toEqual([{ name: 'python', path: `${bin.dir}/python`, version: '2.7.18' }]);
  });

  it('skips a non-executable file and takes the next binary', async () => {
    bin.add('python3', 'echo Python 3.12.1', 0o644);
    bin.add('python', 'echo Python 3.11.9');
    bin.add('perl', 'echo v5.36.0', 0o644);
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(found).toEqual([{ name: 'python', path: `${bin.dir}/python`, version: '3.11.9' }]);
  });

  it('keeps the first binary found even when its version probe fails', async () => {
    bin.add('python3', 'exit 1');
    bin.add('python', 'echo Python 3.11.9');
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    expect(found).toEqual([{ name: 'python', path: `${bin.dir}/python3`, version: null }]);
  });

  it('uses /bin/bash as-is when it exists, without a PATH search', async () => {
    const checked: string[] = [];
    const found = await detectRuntimes({
      env: { PATH: bin.dir },
      fileExists: (p) => {
        checked.push(p);
        return p === '/bin/sh';
      },
    });
    expect(checked).toEqual(['/bin/bash', '/bin/sh']);
    expect(found.map((r) => [r.name, r.path])).toEqual([['shell', '/bin/sh']]);
  });

  it('prefers a bash on PATH over /bin/sh when /bin/bash is absent', async () => {
    bin.add('bash', "echo 'GNU bash, version 5.2.15(1)-release'");
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: (p) => p === '/bin/sh' });
    expect(found).toEqual([{ name: 'shell', path: `${bin.dir}/bash`, version: '5.2.15' }]);
  });

  it('kills a hanging probe and its process group at the timeout, listing the runtime without version', async () => {
    const pidFile = `${bin.dir}/sleep.pid`;
    bin.add('java', `/bin/sleep 1000 & echo $! > ${pidFile}; wait`);
    bin.add('node', 'echo v20.11.0');

    const started = Date.now();
    const found = await detectRuntimes({ env: { PATH: bin.dir }, probeTimeoutMs: 300, fileExists: noFastPath });
    const elapsedMs = Date.now() - started;

    expect(found).toEqual([
      { name: 'node', path: `${bin.dir}/node`, version: '20.11.0' },
      { name: 'java', path: `${bin.dir}/java`, version: null },
    ]);
    expect(elapsedMs).toBeLessThan(1500);
    expect(existsSync(pidFile)).toBe(true);
    const sleepPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(sleepPid).toBeGreaterThan(0);
    expect(await waitUntilGone(sleepPid, 1000)).toBe(true);
  });

  it('probes candidates in parallel', async () => {
    bin.add('python3', '/bin/sleep 0.5; echo Python 3.12.1');
    bin.add('node', '/bin/sleep 0.5; echo v20.11.0');
    bin.add('ruby', '/bin/sleep 0.5; echo ruby 3.3.0');

    const started = Date.now();
    const found = await detectRuntimes({ env: { PATH: bin.dir }, fileExists: noFastPath });
    const elapsedMs = Date.now() - started;

    expect(found.map((r) => r.version)).toEqual(['3.12.1', '20.11.0', '3.3.0']);
    expect(elapsedMs).toBeLessThan(1200);
  });
});

describe('runVersionProbe', () => {
  it('returns output despite a non-zero exit status', async () => {
    const path = bin.add('tool', 'echo out; echo err >&2; exit 42');
    expect(await runVersionProbe(path, [], {}, 2000)).toBe('out\nerr\n');
  });

  it('passes the version arguments', async () => {
    const path = bin.add('tool', 'echo "args:$*"');
    expect(await runVersionProbe(path, ['-version', 'x'], {}, 2000)).toBe('args:-version x\n');
  });

  it('returns null when the binary cannot be spawned', async () => {
    expect(await runVersionProbe(`${bin.dir}/missing`, ['--version'], {}, 2000)).toBeNull();
    const notExec = bin.add('noexec', 'echo v1.0.0', 0o644);
    // execve needs an exec bit even for root: spawn fails with EACCES
    expect(await runVersionProbe(notExec, [], {}, 2000)).toBeNull();
  });

  it('caps the output it keeps but still reads the rest', async () => {
    const path = bin.add('flood', '/usr/bin/head -c 300000 /dev/zero | /usr/bin/tr "\\0" a; echo; echo v1.2.3');
    const out = await runVersionProbe(path, [], {}, 5000);
    expect(out).not.toBeNull();
    expect(out!.length).toBe(64 * 1024);
    expect(out!.includes('v1.2.3')).toBe(false);
  });
});

describe('findBinary', () => {
  it('finds nothing with an empty or missing PATH instead of searching the cwd', async () => {
    expect(await findBinary('node', { env: { PATH: '' }, fileExists: noFastPath })).toBeNull();
    expect(await findBinary('node', { env: {}, fileExists: noFastPath })).toBeNull();
  });

  it('returns the first executable match along PATH', async () => {
    const other = createFakeBinDir();
    try {
      other.add('node', 'echo v1.0.0');
      bin.add('node', 'echo v2.0.0');
      expect(await findBinary('node', { env: { PATH: `${other.dir}:${bin.dir}` } })).toBe(`${other.dir}/node`);
    } finally {
      other.remove();
    }
  });
});

describe('detectRuntimes on this machine', () => {
  it('finds shell, python and node with versions using the captured child env', async () => {
    const found = await detectRuntimes({ env: captureChildBaseEnv(process.env, []), probeTimeoutMs: 10_000 });
    const byName = new Map(found.map((r) => [r.name, r]));
    for (const name of ['shell', 'python', 'node']) {
      expect(byName.get(name)?.version, name).toMatch(/^\d+\.\d+/);
    }
    expect(byName.get('node')?.version).toBe(process.versions.node);
    expect(found.map((r) => r.name)).toEqual(
      ['shell', 'python', 'node', 'ruby', 'go', 'java', 'r', 'perl'].filter((n) => byName.has(n)),
    );
  });
});
